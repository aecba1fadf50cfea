/*
 * zipread.c - bounded reading of ZIP containers (libzip, from memory) and
 * safe XML parsing (libxml2) for the office-format extractors.
 */
#include "knowledge/zipread.h"

#include <libxml/parser.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>
#include <zip.h>

#include "core/alloc.h"

struct rh_zip {
    zip_t *za;
    const char *fmt;
    size_t budget; /* uncompressed bytes still allowed */
};

static xmlParserInputPtr deny_loader(const char *url, const char *id, xmlParserCtxtPtr ctxt)
{
    (void)url;
    (void)id;
    (void)ctxt;
    return NULL; /* never load anything from outside */
}

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_setup(void)
{
    xmlInitParser();
    xmlSetExternalEntityLoader(deny_loader);
}

void rh_xml_init_safe(void) { pthread_once(&xml_once, xml_setup); }

static int name_ok(const char *s)
{
    size_t n = 0;
    for (; s[n]; n++) {
        if ((unsigned char)s[n] < 0x20 || n >= RH_ZIP_MAX_NAME)
            return 0;
    }
    return n > 0;
}

int rh_zip_open(const char *data, size_t len, const char *fmt, rh_zip **out, rh_error *err)
{
    *out = NULL;
    if (len < 22 || memcmp(data, "PK", 2) != 0)
        return rh_error_set(err, RH_EFORMAT,
                            "Die Datei ist kein gültiges %s-Dokument (kein ZIP-Archiv).", fmt);
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(data, len, 0, &ze);
    if (!src) {
        zip_error_fini(&ze);
        return rh_error_set(err, RH_ENOMEM, "Zu wenig Speicher für das %s-Dokument.", fmt);
    }
    /* strict first; some writers produce archives that only the lenient
     * reader accepts (the limits below hold either way). A failed open
     * leaves the source with us. */
    zip_t *za = zip_open_from_source(src, ZIP_RDONLY | ZIP_CHECKCONS, &ze);
    if (!za) {
        zip_error_fini(&ze);
        zip_error_init(&ze);
        za = zip_open_from_source(src, ZIP_RDONLY, &ze);
    }
    if (!za) {
        zip_source_free(src);
        zip_error_fini(&ze);
        return rh_error_set(err, RH_EFORMAT,
                            "Die Datei ist kein gültiges %s-Dokument (beschädigtes ZIP-Archiv).",
                            fmt);
    }
    zip_error_fini(&ze);
    int rc = RH_OK;
    zip_int64_t n = zip_get_num_entries(za, 0);
    if (n < 0 || n > RH_ZIP_MAX_ENTRIES) {
        rc = rh_error_set(err, RH_ELIMIT,
                          "Das %s-Dokument enthält zu viele Teile (mehr als %d ZIP-Einträge).",
                          fmt, RH_ZIP_MAX_ENTRIES);
        goto fail;
    }
    for (zip_int64_t i = 0; i < n; i++) {
        const char *nm = zip_get_name(za, (zip_uint64_t)i, ZIP_FL_ENC_RAW);
        if (!nm || !name_ok(nm)) {
            rc = rh_error_set(err, RH_EFORMAT,
                              "Die Datei ist kein gültiges %s-Dokument (unzulässiger Name "
                              "eines ZIP-Eintrags).",
                              fmt);
            goto fail;
        }
    }
    rh_zip *z = rh_calloc(1, sizeof *z);
    if (!z) {
        rc = rh_error_set(err, RH_ENOMEM, "Zu wenig Speicher für das %s-Dokument.", fmt);
        goto fail;
    }
    z->za = za;
    z->fmt = fmt;
    size_t ratio = len > RH_ZIP_MAX_TOTAL / RH_ZIP_MAX_RATIO ? RH_ZIP_MAX_TOTAL
                                                             : len * RH_ZIP_MAX_RATIO;
    if (ratio < ((size_t)1 << 20))
        ratio = (size_t)1 << 20;
    z->budget = ratio < RH_ZIP_MAX_TOTAL ? ratio : RH_ZIP_MAX_TOTAL;
    *out = z;
    return RH_OK;
fail:
    zip_discard(za);
    return rc;
}

void rh_zip_close(rh_zip *z)
{
    if (!z)
        return;
    zip_discard(z->za);
    rh_free(z);
}

int rh_zip_has(rh_zip *z, const char *name)
{
    return zip_name_locate(z->za, name, ZIP_FL_ENC_RAW) >= 0;
}

int rh_zip_read(rh_zip *z, const char *name, size_t max, char **out, size_t *out_len,
                rh_error *err)
{
    *out = NULL;
    *out_len = 0;
    zip_int64_t idx = zip_name_locate(z->za, name, ZIP_FL_ENC_RAW);
    if (idx < 0)
        idx = zip_name_locate(z->za, name, ZIP_FL_ENC_RAW | ZIP_FL_NOCASE);
    if (idx < 0)
        return rh_error_set(err, RH_ENOTFOUND,
                            "Die Datei ist kein gültiges %s-Dokument (der Teil %s fehlt).",
                            z->fmt, name);
    zip_file_t *f = zip_fopen_index(z->za, (zip_uint64_t)idx, 0);
    if (!f)
        return rh_error_set(err, RH_EFORMAT,
                            "Der Teil %s des %s-Dokuments kann nicht gelesen werden "
                            "(verschlüsselt oder unbekannte Kompression).",
                            name, z->fmt);
    int rc = RH_OK;
    size_t cap = 0, n = 0;
    char *buf = NULL;
    for (;;) {
        if (n + 1 >= cap) {
            size_t nc = cap ? cap * 2 : 64 * 1024;
            char *nb = rh_realloc(buf, nc);
            if (!nb) {
                rc = rh_error_set(err, RH_ENOMEM, "Zu wenig Speicher für das %s-Dokument.",
                                  z->fmt);
                goto out;
            }
            buf = nb;
            cap = nc;
        }
        zip_int64_t r = zip_fread(f, buf + n, cap - n - 1);
        if (r < 0) {
            rc = rh_error_set(err, RH_EFORMAT,
                              "Die Datei ist kein gültiges %s-Dokument (beschädigtes "
                              "ZIP-Archiv: %s).",
                              z->fmt, zip_file_strerror(f));
            goto out;
        }
        if (r == 0)
            break;
        n += (size_t)r;
        if (n > max || n > z->budget) {
            rc = rh_error_set(err, RH_ELIMIT,
                              "Das %s-Dokument ist entpackt zu groß (Schutz vor "
                              "ZIP-Bomben: höchstens %zu MB).",
                              z->fmt, (max < z->budget ? max : z->budget) >> 20);
            goto out;
        }
    }
    z->budget -= n;
    buf[n] = '\0';
    *out = buf;
    *out_len = n;
    buf = NULL;
out:
    zip_fclose(f);
    rh_free(buf);
    return rc;
}

int rh_xml_parse_safe(const char *data, size_t len, const char *what, xmlDocPtr *out,
                      rh_error *err)
{
    rh_xml_init_safe();
    *out = NULL;
    if (len > (size_t)INT32_MAX)
        return rh_error_set(err, RH_ELIMIT, "%s ist zu groß.", what);
    if (memmem(data, len, "<!DOCTYPE", 9) || memmem(data, len, "<!doctype", 9) ||
        memmem(data, len, "<!ENTITY", 8))
        return rh_error_set(err, RH_EFORMAT,
                            "%s enthält eine DTD oder Entity-Definitionen; das wird aus "
                            "Sicherheitsgründen nicht gelesen.",
                            what);
    xmlDocPtr d = xmlReadMemory(data, (int)len, NULL, NULL,
                                XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
    if (!d)
        return rh_error_set(err, RH_EFORMAT, "%s ist kein wohlgeformtes XML.", what);
    if (d->intSubset || d->extSubset || !xmlDocGetRootElement(d)) {
        xmlFreeDoc(d);
        return rh_error_set(err, RH_EFORMAT, "%s ist kein gültiges XML-Dokument.", what);
    }
    *out = d;
    return RH_OK;
}

int rh_zip_read_xml(rh_zip *z, const char *name, xmlDocPtr *out, rh_error *err)
{
    char *data = NULL;
    size_t n = 0;
    *out = NULL;
    int rc = rh_zip_read(z, name, RH_ZIP_MAX_XML, &data, &n, err);
    if (rc)
        return rc;
    char what[RH_ZIP_MAX_NAME + 64];
    snprintf(what, sizeof what, "Der Teil %s des %s-Dokuments", name, z->fmt);
    rc = rh_xml_parse_safe(data, n, what, out, err);
    rh_free(data);
    return rc;
}

int rh_xml_is(const xmlNode *n, const char *name)
{
    return n && n->type == XML_ELEMENT_NODE && strcmp((const char *)n->name, name) == 0;
}

const char *rh_xml_attr(const xmlNode *n, const char *name)
{
    for (const xmlAttr *a = n ? n->properties : NULL; a; a = a->next) {
        if (strcmp((const char *)a->name, name) == 0) {
            const xmlNode *c = a->children;
            if (c && (c->type == XML_TEXT_NODE) && c->content && !c->next)
                return (const char *)c->content;
            return "";
        }
    }
    return NULL;
}

xmlNode *rh_xml_child(const xmlNode *n, const char *name)
{
    for (xmlNode *c = n ? n->children : NULL; c; c = c->next)
        if (rh_xml_is(c, name))
            return c;
    return NULL;
}
