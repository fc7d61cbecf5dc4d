/* Shared by the fuzz targets: the input as a NUL-terminated string (caller frees). */
#pragma once

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static inline char *fuzz_text(const uint8_t *data, size_t size)
{
        char *text = malloc(size + 1);
        if (text) {
                memcpy(text, data, size);
                text[size] = '\0';
        }
        return text;
}
