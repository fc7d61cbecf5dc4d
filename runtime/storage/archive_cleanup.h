/* Cleanup attributes for libarchive's objects (vps/cleanup.h's for the rest). */
#pragma once

#include <archive.h>
#include <archive_entry.h>

static inline void vps_archive_read_freep(struct archive **a)
{
        if (*a)
                archive_read_free(*a);
}

static inline void vps_archive_write_freep(struct archive **a)
{
        if (*a)
                archive_write_free(*a);
}

static inline void vps_archive_entry_freep(struct archive_entry **e)
{
        if (*e)
                archive_entry_free(*e);
}

#define _cleanup_archive_read_  _cleanup_(vps_archive_read_freep)
#define _cleanup_archive_write_ _cleanup_(vps_archive_write_freep)
#define _cleanup_archive_entry_ _cleanup_(vps_archive_entry_freep)
