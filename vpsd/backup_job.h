/* backup_job.c: the child of vpsd that writes a VPS's backup to its stream (backup.c forks it):
 * the base's MANIFEST in, the archive and its progress out. */
#pragma once

struct vpsd;
struct vps_inst;
struct vpsd_stream;

/* Runs in the child on s->sock; never returns. */
_Noreturn void vpsd_backup_child(struct vpsd *d, struct vps_inst *vi, struct vpsd_stream *s);
