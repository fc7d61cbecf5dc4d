/* vpsd: the template endpoints (docs/api.md): listing, building or importing (builds.c runs
 * those that take minutes in a child), showing and removing a template. */
#include "trash.h"
#include "template_routes.h"

#include "builds.h"
#include "api.h"
#include "log.h"
#include "restore.h"
#include "templates/templates.h"
#include "template/template.h"
#include "vpsd.h"

#include <errno.h>
#include <jansson.h>

int vpsd_route_templates(struct vpsd *d, struct request *req, const char *arg, json_t *body,
                         unsigned int *status, json_t **ret, vps_error *err)
{
        int r = vps_templates_list(&d->m, ret, err);
        /* A restored template is a VPS's whole root (its customer's data): not a token's to
         * list (a token reinstalls its VPS from its own without naming it). */
        const struct vpsd_client *c = vpsd_request_client(req);
        for (size_t i = r == 0 && c && c->kind == VPSD_CLIENT_TOKEN ? json_array_size(*ret) : 0;
             i-- > 0;)
                if (vpsd_template_restored(
                            json_string_value(json_object_get(json_array_get(*ret, i), "name"))
                                    ?: ""))
                        json_array_remove(*ret, i);
        return r;
}

int vpsd_route_template_build(struct vpsd *d, struct request *req, const char *arg, json_t *body,
                              unsigned int *status, json_t **ret, vps_error *err)
{
        json_t *jn = json_object_get(body, "name"), *ji = json_object_get(body, "import");
        if (!json_is_string(jn))
                return vps_err(err, EINVAL, "template build needs a string field 'name'");
        if (ji && !json_is_string(ji) && !json_is_null(ji)) /* null: no import */
                return vps_err(err, EINVAL, "'import' must be the path of a tarball");
        const char *name = json_string_value(jn), *import = json_string_value(ji);
        if (import || vps_recipe_find(name)) { /* a child, minutes; answered at once */
                int r = vpsd_build_start(d, name, import, ret, err);
                if (r == 0)
                        *status = 202;
                return r;
        }
        int r = vps_template_build(&d->m, name, ret, err);
        if (r == 0) {
                vpsd_log("template %s built", name);
                *status = 201;
        }
        return r;
}

int vpsd_route_template(struct vpsd *d, struct request *req, const char *name, json_t *body,
                        unsigned int *status, json_t **ret, vps_error *err)
{
        return vps_template_get(&d->m, name, ret, err);
}

int vpsd_route_template_status(struct vpsd *d, struct request *req, const char *name, json_t *body,
                               unsigned int *status, json_t **ret, vps_error *err)
{
        int r = vps_template_name_check(name, err);
        if (r < 0)
                return r;
        if (!(*ret = vpsd_build_status(d, name)))
                return vps_err(err, ENOENT, "no build of template '%s' since vpsd started", name);
        return 0;
}

int vpsd_route_template_remove(struct vpsd *d, struct request *req, const char *name, json_t *body,
                               unsigned int *status, json_t **ret, vps_error *err)
{
        int r = vps_template_remove(&d->m, name, err);
        if (r == 0)
                vpsd_trash_sweep_templates(d); /* its files: answered before they are gone */
        if (r == 0)
                *ret = json_pack("{s:s, s:b}", "name", name, "removed", 1);
        return r;
}
