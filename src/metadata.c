/* Metadata carried from an input file to the outputs: the ICC profile,
 * the EXIF block and PNG text chunks, held as the bytes the file stored
 * (deconv_metadata, deconv.h), so that what a writer puts back is what was
 * read. The EXIF block is a small TIFF structure; IFD0 is read here for the
 * orientation and the descriptive text tags (which a TIFF output stores as
 * its own tags), and a block is made here for a TIFF input, whose tags are
 * not in EXIF form. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "imageio.h"

deconv_metadata *deconv_metadata_new(void) { return calloc(1, sizeof(deconv_metadata)); }

void deconv_metadata_free(deconv_metadata *m)
{
    if (!m)
        return;
    free(m->icc);
    free(m->exif);
    for (int i = 0; i < m->text_count; i++)
        free(m->text[i].data);
    free(m->text);
    free(m);
}

static unsigned char *copy_bytes(const void *data, size_t size)
{
    unsigned char *p = malloc(size ? size : 1);
    if (p && size)
        memcpy(p, data, size);
    return p;
}

int deconv_metadata_set_icc(deconv_metadata *m, const void *icc, size_t size)
{
    if (size == 0) /* an empty profile is none (deconv.h: the profile, or NULL) */
        return 0;
    unsigned char *p = copy_bytes(icc, size);
    if (!p)
        return -1;
    free(m->icc);
    m->icc = p;
    m->icc_size = size;
    return 0;
}

int deconv_metadata_set_exif(deconv_metadata *m, const void *exif, size_t size)
{
    unsigned char *p = copy_bytes(exif, size);
    if (!p)
        return -1;
    free(m->exif);
    m->exif = p;
    m->exif_size = size;
    m->orientation = deconv_exif_orientation(p, size);
    return 0;
}

int deconv_metadata_add_text(deconv_metadata *m, const char *type, const void *data, size_t size)
{
    if (m->text_count >= DECONV_METADATA_TEXT_MAX)
        return 0; /* the rest are dropped */
    deconv_png_text *grown = realloc(m->text, sizeof *grown * (size_t)(m->text_count + 1));
    if (!grown)
        return -1;
    m->text = grown;
    deconv_png_text *t = &m->text[m->text_count];
    memset(t, 0, sizeof *t);
    memcpy(t->type, type, 4);
    if (!(t->data = copy_bytes(data, size)))
        return -1;
    t->size = size;
    m->text_count++;
    return 0;
}

/* ------------------------------------------------------------------ */
/* EXIF's IFD0                                                          */
/* ------------------------------------------------------------------ */

typedef struct {
    const unsigned char *p;
    size_t n;
    int big_endian;
} exif_view;

static uint32_t rd16(const exif_view *v, size_t at)
{
    const unsigned char *q = v->p + at;
    return v->big_endian ? (uint32_t)(q[0] << 8 | q[1]) : (uint32_t)(q[1] << 8 | q[0]);
}

static uint32_t rd32(const exif_view *v, size_t at)
{
    const unsigned char *q = v->p + at;
    return v->big_endian ? (uint32_t)q[0] << 24 | (uint32_t)q[1] << 16 | (uint32_t)q[2] << 8 | q[3]
                         : (uint32_t)q[3] << 24 | (uint32_t)q[2] << 16 | (uint32_t)q[1] << 8 | q[0];
}

/* The entries of IFD0: their count, and where the first is; -1 when the
 * block is not a TIFF structure with an IFD0 inside it. */
static int exif_ifd0(const exif_view *v, size_t *first)
{
    if (v->n < 8)
        return -1;
    if (memcmp(v->p, "II*\0", 4) != 0 && memcmp(v->p, "MM\0*", 4) != 0)
        return -1;
    uint32_t off = rd32(v, 4);
    if (off < 8 || (uint64_t)off + 2 > v->n)
        return -1;
    uint32_t count = rd16(v, off);
    if ((uint64_t)off + 2 + 12 * (uint64_t)count > v->n)
        return -1;
    *first = off + 2;
    return (int)count;
}

static exif_view view_of(const unsigned char *exif, size_t size)
{
    exif_view v = {exif, size, size >= 2 && exif[0] == 'M'};
    return v;
}

int deconv_exif_orientation(const unsigned char *exif, size_t size)
{
    exif_view v = view_of(exif, size);
    size_t e;
    int count = exif_ifd0(&v, &e);
    for (int i = 0; i < count; i++, e += 12)
        if (rd16(&v, e) == 0x0112 && rd16(&v, e + 2) == 3 && rd32(&v, e + 4) >= 1) {
            uint32_t o = rd16(&v, e + 8);
            return o >= 1 && o <= 8 ? (int)o : 0;
        }
    return 0;
}

int deconv_exif_text(const unsigned char *exif, size_t size, unsigned tag, char *out,
                     size_t out_size)
{
    exif_view v = view_of(exif, size);
    size_t e;
    int count = exif_ifd0(&v, &e);
    out[0] = '\0';
    for (int i = 0; i < count; i++, e += 12) {
        if (rd16(&v, e) != tag || rd16(&v, e + 2) != 2)
            continue;
        uint32_t n = rd32(&v, e + 4);
        size_t at = n <= 4 ? e + 8 : rd32(&v, e + 8);
        if (n == 0 || at > v.n || n > v.n - at)
            return 0;
        size_t len = 0;
        while (len < n && v.p[at + len])
            len++;
        if (len == 0 || len + 1 > out_size)
            return 0;
        memcpy(out, v.p + at, len);
        out[len] = '\0';
        return 1;
    }
    return 0;
}

const unsigned deconv_exif_text_tags[DECONV_EXIF_TEXT_TAGS] = {
    0x010E, /* ImageDescription */
    0x010F, /* Make */
    0x0110, /* Model */
    0x0131, /* Software */
    0x0132, /* DateTime */
    0x013B, /* Artist */
    0x8298, /* Copyright */
};

static int by_tag(const void *a, const void *b)
{
    const deconv_exif_entry *x = a, *y = b;
    return (x->tag > y->tag) - (x->tag < y->tag);
}

/* The bytes an IFD of these entries takes, its values included. */
static size_t ifd_size(const deconv_exif_entry *e, int n)
{
    size_t size = 2 + 12 * (size_t)n + 4;
    for (int i = 0; i < n; i++)
        if (e[i].size > 4)
            size += (e[i].size + 1) & ~(size_t)1; /* values start on even offsets */
    return size;
}

/* Write a little-endian IFD at b + at (its next-IFD offset 0), its values
 * after it. */
static void put_ifd(unsigned char *b, size_t at, const deconv_exif_entry *e, int n)
{
    b[at] = (unsigned char)n, b[at + 1] = (unsigned char)(n >> 8);
    size_t value = at + 2 + 12 * (size_t)n + 4;
    for (int i = 0; i < n; i++) {
        unsigned char *p = b + at + 2 + 12 * i;
        p[0] = (unsigned char)e[i].tag, p[1] = (unsigned char)(e[i].tag >> 8);
        p[2] = (unsigned char)e[i].type;
        for (int k = 0; k < 4; k++)
            p[4 + k] = (unsigned char)(e[i].count >> (8 * k));
        if (e[i].size <= 4) {
            memcpy(p + 8, e[i].value, e[i].size);
        } else {
            for (int k = 0; k < 4; k++)
                p[8 + k] = (unsigned char)(value >> (8 * k));
            memcpy(b + value, e[i].value, e[i].size);
            value += (e[i].size + 1) & ~(size_t)1;
        }
    }
}

unsigned char *deconv_exif_make(int orientation, const char *const text[DECONV_EXIF_TEXT_TAGS],
                                double resolution, const deconv_exif_entry *sub, int nsub,
                                size_t *size)
{
    /* the tags EXIF requires in IFD0 beside the caller's: the resolution
     * (the caller's, or 72 per inch) and YCbCrPositioning (centred) */
    if (!(resolution > 0 && resolution < 1e6))
        resolution = 72;
    uint32_t num = (uint32_t)(resolution * 1000 + 0.5), den = 1000;
    unsigned char rational[8], orient[2] = {(unsigned char)orientation, 0}, inch[2] = {2, 0},
                               centred[2] = {1, 0}, pointer[4] = {0};
    for (int k = 0; k < 4; k++) {
        rational[k] = (unsigned char)(num >> (8 * k));
        rational[4 + k] = (unsigned char)(den >> (8 * k));
    }
    deconv_exif_entry e[DECONV_EXIF_TEXT_TAGS + 6];
    int n = 0;
    e[n++] = (deconv_exif_entry){0x011A, 5, 1, rational, 8};
    e[n++] = (deconv_exif_entry){0x011B, 5, 1, rational, 8};
    e[n++] = (deconv_exif_entry){0x0128, 3, 1, inch, 2};
    e[n++] = (deconv_exif_entry){0x0213, 3, 1, centred, 2};
    if (orientation >= 1 && orientation <= 8)
        e[n++] = (deconv_exif_entry){0x0112, 3, 1, orient, 2};
    if (nsub > 0) /* the EXIF IFD: its offset filled in below */
        e[n++] = (deconv_exif_entry){0x8769, 4, 1, pointer, 4};
    /* the text tags as long as the block fits one JPEG marker, so that a
     * long description never costs a JPEG output its orientation */
    size_t total = 8 + ifd_size(e, n) + (nsub > 0 ? ifd_size(sub, nsub) : 0);
    for (int i = 0; i < DECONV_EXIF_TEXT_TAGS; i++)
        if (text[i] && text[i][0]) {
            size_t len = strlen(text[i]) + 1;
            size_t more = 12 + (len > 4 ? (len + 1) & ~(size_t)1 : 0);
            if (total + more > DECONV_EXIF_BLOCK_MAX)
                continue;
            total += more;
            e[n++] = (deconv_exif_entry){deconv_exif_text_tags[i], 2, (uint32_t)len,
                                         (const unsigned char *)text[i], len};
        }
    qsort(e, (size_t)n, sizeof e[0], by_tag);
    size_t ifd0 = 8, exif_ifd = ifd0 + ifd_size(e, n);
    *size = exif_ifd + (nsub > 0 ? ifd_size(sub, nsub) : 0);
    for (int k = 0; k < 4; k++)
        pointer[k] = (unsigned char)(exif_ifd >> (8 * k));
    unsigned char *b = calloc(*size, 1);
    if (!b)
        return NULL;
    memcpy(b, "II*\0", 4);
    b[4] = (unsigned char)ifd0;
    put_ifd(b, ifd0, e, n);
    if (nsub > 0)
        put_ifd(b, exif_ifd, sub, nsub);
    return b;
}
