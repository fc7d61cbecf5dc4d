/* Unit tests: vpsctl shows the API's field names ('ram', 'ssh_key') as its options. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "client.h"

static void expect(const char *api, const char *shown)
{
        char msg[VPS_ERROR_MSG_MAX];
        (void)snprintf(msg, sizeof(msg), "%s", api);
        client_option_names(msg, sizeof(msg));
        assert_string_equal(msg, shown);
}

static void test_option_names(void **state)
{
        (void)state;
        expect("'bootorder' must be within +-1000000", "--bootorder must be within +-1000000");
        expect("'ram': invalid size 'lots'", "--ram: invalid size 'lots'");
        expect("VPS 1: 'ssh_key': no key", "VPS 1: --ssh-key: no key");
        expect("unknown feature 'kvm' in 'features' (known: tun)",
               "unknown feature 'kvm' in --features (known: tun)");
        expect("'none' in 'features' must stand alone", "'none' in --features must stand alone");
        expect("VPS 1 has port forwards: remove them first ('forward' none)",
               "VPS 1 has port forwards: remove them first (--forward none)");
        /* values and unknown words stay quoted; a lone quote stays */
        expect("no user 'nosuchuser' in the VPS's /etc/shadow",
               "no user 'nosuchuser' in the VPS's /etc/shadow");
        expect("cannot set 'nonsense'", "cannot set 'nonsense'");
        expect("it's 'rate", "it's 'rate");
}

int main(void)
{
        const struct CMUnitTest tests[] = {cmocka_unit_test(test_option_names)};
        return cmocka_run_group_tests(tests, NULL, NULL);
}
