/* Link stubs for the fuzz targets: netsetup/addr.c refers to the netlink exchange (nl.c) and
 * to libmnl for ns_addr_add/ns_addr_del/ns_route_default, which no fuzz target calls. */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

struct nlmsghdr;

int ns_nl_talk(struct nlmsghdr *req, const char *what, void *err)
{
        (void)req, (void)what, (void)err;
        abort();
}
struct nlmsghdr *mnl_nlmsg_put_header(void *buf)
{
        (void)buf;
        abort();
}
void *mnl_nlmsg_put_extra_header(struct nlmsghdr *nlh, size_t size)
{
        (void)nlh, (void)size;
        abort();
}
void mnl_attr_put(struct nlmsghdr *nlh, uint16_t type, size_t len, const void *data)
{
        (void)nlh, (void)type, (void)len, (void)data;
        abort();
}
void mnl_attr_put_u32(struct nlmsghdr *nlh, uint16_t type, uint32_t data)
{
        (void)nlh, (void)type, (void)data;
        abort();
}
