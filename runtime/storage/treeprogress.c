/* libvps: a tree copy's progress (treecopy.h, tc_progress): what it has done so far, handed
 * to its caller's callback now and then, so that a long plain copy (no reflinks) can be
 * followed. */
#include "storage/treecopy.h"

void tc_progress(struct copy *c, uint64_t partial, bool now)
{
        const struct vps_copy_progress *p = c->o->progress;
        if (!p || c->catching_up)
                return;
        struct vps_copy_stats s = *c->stats;
        s.bytes += partial;
        if (!now && s.files - c->pr_files < 256 && s.bytes - c->pr_bytes < TC_PROGRESS_CHUNK)
                return;
        c->pr_files = s.files;
        c->pr_bytes = s.bytes;
        p->fn(p->arg, &s);
}
