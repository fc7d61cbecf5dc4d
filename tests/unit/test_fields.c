/* Unit tests: the field table (config.h's vps_fields): every field round-trips JSON -> struct
 * -> JSON, and a config.json written before the table loads and saves to the same JSON. */
#include <setjmp.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <jansson.h>

#include "config/config.h"

static json_t *fixture(const char *name)
{
        char path[512];
        (void)snprintf(path, sizeof(path), "%s/%s", FIXTURE_DIR, name);
        json_error_t e;
        json_t *j = json_load_file(path, 0, &e);
        if (!j)
                fail_msg("%s: %s", path, e.text);
        return j;
}

/* text loads, and saves as the same JSON (keys and values). */
static void assert_same_after_load_save(json_t *want)
{
        char *text = json_dumps(want, 0);
        struct vps_config c;
        vps_error err = {0};
        if (vps_config_from_json(text, &c, &err) < 0)
                fail_msg("%s: %s", text, err.msg);
        char *out = vps_config_to_json(&c);
        assert_non_null(out);
        json_t *got = json_loads(out, 0, NULL);
        if (!json_equal(got, want))
                fail_msg("saved as\n%s\nnot as\n%s", out, text);
        json_decref(got);
        free(out);
        free(text);
}

/* config.json files the vpsd before the field table wrote load, and save as they were. */
static void test_old_config_json_loads(void **state)
{
        (void)state;
        static const char *const names[] = {"config-full.json", "config-min.json"};
        for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
                json_t *j = fixture(names[i]);
                assert_same_after_load_save(j);
                json_decref(j);
        }
}

/* Each field on its own: the minimal config with that one field taken from the full one
 * loads into a struct that differs from the minimal one, and saves that field's value as it
 * was. A row whose load or save forgot the struct fails here, and so does a new row without
 * a value in config-full.json. */
static void test_every_field_round_trips(void **state)
{
        (void)state;
        json_t *full = fixture("config-full.json"), *min = fixture("config-min.json");
        char *min_text = json_dumps(min, 0);
        struct vps_config base;
        vps_error err = {0};
        assert_int_equal(vps_config_from_json(min_text, &base, &err), 0);
        for (unsigned int i = 0; i < VPS_F_COUNT; i++) {
                const struct vps_field *f = &vps_fields[i];
                assert_ptr_equal(vps_field_find(f->key), f);
                json_t *v = json_object_get(full, f->key);
                if (!v)
                        fail_msg("config-full.json has no value for field '%s'", f->key);
                json_t *o = json_deep_copy(min);
                json_object_set(o, f->key, v);
                char *text = json_dumps(o, 0);
                struct vps_config c;
                if (vps_config_from_json(text, &c, &err) < 0)
                        fail_msg("field '%s': %s", f->key, err.msg);
                if (json_equal(v, json_object_get(min, f->key)) == 0 &&
                    memcmp(&c, &base, sizeof(c)) == 0)
                        fail_msg("field '%s' did not reach the struct", f->key);
                json_t *saved = vps_field_save(f, &c);
                if (!json_equal(saved, v))
                        fail_msg("field '%s' does not save as it loaded", f->key);
                /* the view shows something for each field it lists */
                if (f->flags & VPS_FIELD_VIEW) {
                        json_t *view = vps_field_view(f, &c);
                        assert_non_null(view);
                        json_decref(view);
                }
                assert_same_after_load_save(o);
                json_decref(saved);
                free(text);
                json_decref(o);
        }
        free(min_text);
        json_decref(min);
        json_decref(full);
}

/* A bad value of each field is refused with a message naming it, and nothing is loaded. */
static void test_every_field_refuses_garbage(void **state)
{
        (void)state;
        json_t *full = fixture("config-full.json");
        for (unsigned int i = 0; i < VPS_F_COUNT; i++) {
                const struct vps_field *f = &vps_fields[i];
                json_t *o = json_deep_copy(full);
                /* an object is no field's type but limits', which is no array */
                bool lim = i == VPS_F_LIMITS;
                json_object_set_new(
                        o, f->key, lim ? json_pack("[s]", "x") : json_pack("{s:i}", "nonsense", 1));
                char *text = json_dumps(o, 0);
                struct vps_config c;
                memset(&c, 0x55, sizeof(c));
                vps_error err = {0};
                if (vps_config_from_json(text, &c, &err) >= 0)
                        fail_msg("field '%s': an object was accepted", f->key);
                if (!strstr(err.msg, f->key))
                        fail_msg("field '%s': the message '%s' does not name it", f->key, err.msg);
                free(text);
                json_decref(o);
        }
        json_decref(full);
}

/* The view: inheriting name servers shown as ["inherit"], no plan as null; config.json
 * keeps [] and leaves plan out. */
static void test_view_forms(void **state)
{
        (void)state;
        json_t *min = fixture("config-min.json");
        char *text = json_dumps(min, 0);
        struct vps_config c;
        vps_error err = {0};
        assert_int_equal(vps_config_from_json(text, &c, &err), 0);
        c.n_ns = 0;
        json_t *o = json_object();
        vps_config_view(&c, o);
        assert_string_equal(json_string_value(json_array_get(json_object_get(o, "nameserver"), 0)),
                            "inherit");
        assert_true(json_is_null(json_object_get(o, "plan")));
        assert_null(json_object_get(o, "projid"));
        char *saved = vps_config_to_json(&c);
        assert_non_null(strstr(saved, "\"nameserver\": []"));
        assert_null(strstr(saved, "plan"));
        free(saved);
        json_decref(o);
        free(text);
        json_decref(min);
}

int main(void)
{
        const struct CMUnitTest tests[] = {
                cmocka_unit_test(test_old_config_json_loads),
                cmocka_unit_test(test_every_field_round_trips),
                cmocka_unit_test(test_every_field_refuses_garbage),
                cmocka_unit_test(test_view_forms),
        };
        return cmocka_run_group_tests(tests, NULL, NULL);
}
