/*
 * test_extract.c - tests of the document format extractors (PDF, DOCX,
 * ODT, XLSX, ODS, CSV, e-mail, images with OCR) and of their behaviour on
 * hostile input (zip bombs, many entries, external entities, billion
 * laughs, truncated and random files, huge page counts). Every fixture is
 * made here: office files are zips of XML built with libzip, PDFs are
 * written by hand with a correct xref table, scanned pages are rendered
 * with MuPDF and read back by Tesseract.
 */
#include <mupdf/fitz.h>
#include <mupdf/pdf.h>
#include <stdint.h>
#include <zip.h>

#include "core/alloc.h"
#include "core/buf.h"
#include "knowledge/extract.h"
#include "knowledge/ocr.h"
#include "test.h"

#ifdef __SANITIZE_ADDRESS__
/* from the sanitizer runtime (sanitizer/allocator_interface.h, which gcc
 * does not install) */
size_t __sanitizer_get_current_allocated_bytes(void);
#endif

/* ---- helpers ---- */

/* Live heap bytes under AddressSanitizer (0 otherwise). The test runner
 * ends each test with _exit, so LeakSanitizer never looks; instead a test
 * warms up (one-time library set-up), then checks that repeating the work
 * does not make the heap grow. */
static size_t live_bytes(void)
{
#ifdef __SANITIZE_ADDRESS__
    return __sanitizer_get_current_allocated_bytes();
#else
    return 0;
#endif
}

#define ASSERT_NO_GROWTH(base)                                                                  \
    do {                                                                                        \
        size_t _now = live_bytes();                                                             \
        if (_now > (base))                                                                      \
            FAIL("the heap grew by %zu bytes: a leak", _now - (base));                          \
    } while (0)

typedef struct zent {
    const char *name;
    const char *data;
    size_t len; /* 0: strlen(data) */
} zent;

/* A zip archive in memory (rh_malloc'ed). */
static char *make_zip(const zent *e, int n, size_t *out_len)
{
    zip_error_t ze;
    zip_error_init(&ze);
    zip_source_t *src = zip_source_buffer_create(NULL, 0, 0, &ze);
    ASSERT(src);
    zip_source_keep(src);
    zip_t *za = zip_open_from_source(src, ZIP_TRUNCATE, &ze);
    ASSERT(za);
    for (int i = 0; i < n; i++) {
        size_t l = e[i].len ? e[i].len : strlen(e[i].data);
        zip_source_t *s = zip_source_buffer(za, e[i].data, l, 0);
        ASSERT(s);
        ASSERT(zip_file_add(za, e[i].name, s, ZIP_FL_ENC_UTF_8) >= 0);
    }
    ASSERT(zip_close(za) == 0);
    zip_stat_t st;
    ASSERT(zip_source_open(src) == 0);
    ASSERT(zip_source_stat(src, &st) == 0);
    char *out = rh_malloc(st.size + 1);
    ASSERT(out);
    ASSERT(zip_source_read(src, out, st.size) == (zip_int64_t)st.size);
    zip_source_close(src);
    zip_source_free(src);
    zip_error_fini(&ze);
    *out_len = st.size;
    return out;
}

static int run(rh_extract_fn fn, const char *data, size_t len, rh_kdoc *doc, rh_error *err)
{
    rh_kdoc_init(doc, 8 << 20, rh_monotonic_seconds() + 50);
    rh_error_clear(err);
    return fn(data, len, doc, err);
}

/* Index of the first block of `kind` (0 = any) containing `s`, or -1. */
static long find(const rh_kdoc *d, int kind, const char *s)
{
    for (size_t i = 0; i < d->n; i++)
        if ((!kind || d->blocks[i].kind == kind) && strstr(d->blocks[i].text, s))
            return (long)i;
    return -1;
}

static void dump(const rh_kdoc *d)
{
    for (size_t i = 0; i < d->n; i++)
        fprintf(stderr, "  [%zu] %s%d p%d: %s\n", i, d->blocks[i].kind == RH_KBLOCK_HEADING ? "H" : "P",
                d->blocks[i].level, d->blocks[i].page, d->blocks[i].text);
}

#define ASSERT_BLOCK(d, kind, text)                                                             \
    do {                                                                                        \
        if (find((d), (kind), (text)) < 0) {                                                    \
            dump(d);                                                                            \
            FAIL("no %s block with \"%s\"", (kind) == RH_KBLOCK_HEADING ? "heading" : "text",   \
                 (text));                                                                       \
        }                                                                                       \
    } while (0)

static int any_text(const rh_kdoc *d, const char *s)
{
    return find(d, 0, s) >= 0 || (d->title && strstr(d->title, s));
}

/* ---- DOCX ---- */

#define W_NS "xmlns:w=\"http://schemas.openxmlformats.org/wordprocessingml/2006/main\""

static const char docx_ct[] =
    "<?xml version=\"1.0\"?><Types "
    "xmlns=\"http://schemas.openxmlformats.org/package/2006/content-types\"/>";

static const char docx_styles[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><w:styles " W_NS ">"
    "<w:style w:type=\"paragraph\" w:styleId=\"Heading1\"><w:name w:val=\"heading 1\"/></w:style>"
    "<w:style w:type=\"paragraph\" w:styleId=\"berschrift2\"><w:name w:val=\"Überschrift 2\"/></w:style>"
    "<w:style w:type=\"paragraph\" w:styleId=\"Gliederung\"><w:name w:val=\"Gliederung\"/>"
    "<w:pPr><w:outlineLvl w:val=\"2\"/></w:pPr></w:style>"
    "</w:styles>";

static const char docx_numbering[] =
    "<?xml version=\"1.0\"?><w:numbering " W_NS ">"
    "<w:abstractNum w:abstractNumId=\"0\"><w:lvl w:ilvl=\"0\"><w:numFmt w:val=\"bullet\"/></w:lvl></w:abstractNum>"
    "<w:abstractNum w:abstractNumId=\"1\"><w:lvl w:ilvl=\"0\"><w:numFmt w:val=\"decimal\"/></w:lvl></w:abstractNum>"
    "<w:num w:numId=\"1\"><w:abstractNumId w:val=\"0\"/></w:num>"
    "<w:num w:numId=\"2\"><w:abstractNumId w:val=\"1\"/></w:num>"
    "</w:numbering>";

static const char docx_core[] =
    "<?xml version=\"1.0\"?><cp:coreProperties "
    "xmlns:cp=\"http://schemas.openxmlformats.org/package/2006/metadata/core-properties\" "
    "xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><dc:title>Satzung über die "
    "Abfallentsorgung</dc:title></cp:coreProperties>";

static const char docx_doc[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><w:document " W_NS "><w:body>"
    "<w:p><w:pPr><w:pStyle w:val=\"Heading1\"/></w:pPr><w:r><w:t>Allgemeine "
    "Bestimmungen</w:t></w:r></w:p>"
    "<w:p><w:r><w:t xml:space=\"preserve\">Die Gemeinde </w:t></w:r><w:r><w:rPr><w:b/></w:rPr>"
    "<w:t>betreibt</w:t></w:r><w:r><w:tab/><w:t>die Abfallentsorgung.</w:t></w:r>"
    "<w:del><w:r><w:delText>GELÖSCHT</w:delText></w:r></w:del></w:p>"
    "<w:p><w:pPr><w:pStyle w:val=\"berschrift2\"/></w:pPr><w:r><w:t>Gebühren</w:t></w:r></w:p>"
    "<w:p><w:pPr><w:pStyle w:val=\"Gliederung\"/></w:pPr><w:r><w:t>Unterabschnitt</w:t></w:r></w:p>"
    "<w:p><w:pPr><w:numPr><w:ilvl w:val=\"0\"/><w:numId w:val=\"1\"/></w:numPr></w:pPr>"
    "<w:r><w:t>Restmüll</w:t></w:r></w:p>"
    "<w:p><w:pPr><w:numPr><w:ilvl w:val=\"0\"/><w:numId w:val=\"2\"/></w:numPr></w:pPr>"
    "<w:r><w:t>Erstens</w:t></w:r></w:p>"
    "<w:p><w:pPr><w:numPr><w:ilvl w:val=\"0\"/><w:numId w:val=\"2\"/></w:numPr></w:pPr>"
    "<w:r><w:t>Zweitens</w:t></w:r></w:p>"
    "<w:tbl><w:tr><w:tc><w:p><w:r><w:t>Behälter</w:t></w:r></w:p></w:tc>"
    "<w:tc><w:p><w:r><w:t>Gebühr</w:t></w:r></w:p></w:tc></w:tr>"
    "<w:tr><w:tc><w:p><w:r><w:t>120 Liter</w:t></w:r></w:p></w:tc>"
    "<w:tc><w:p><w:r><w:t>85 Euro</w:t></w:r></w:p></w:tc></w:tr></w:tbl>"
    "<w:sdt><w:sdtContent><w:p><w:r><w:t>Im Inhaltssteuerelement</w:t></w:r></w:p></w:sdtContent></w:sdt>"
    "<w:sectPr/></w:body></w:document>";

static char *make_docx(const char *document, size_t *len)
{
    zent e[] = {{"[Content_Types].xml", docx_ct, 0},  {"word/document.xml", document, 0},
                {"word/styles.xml", docx_styles, 0},  {"word/numbering.xml", docx_numbering, 0},
                {"docProps/core.xml", docx_core, 0}};
    return make_zip(e, 5, len);
}

TEST(ext_docx_basic)
{
    size_t len;
    char *z = make_docx(docx_doc, &len);
    rh_kdoc d;
    rh_error err;
    ASSERT_EQ(run(rh_extract_docx, z, len, &d, &err), RH_OK);
    ASSERT_STREQ(d.title, "Satzung über die Abfallentsorgung");
    long h1 = find(&d, RH_KBLOCK_HEADING, "Allgemeine Bestimmungen");
    ASSERT(h1 >= 0);
    ASSERT_EQ(d.blocks[h1].level, 1);
    ASSERT_BLOCK(&d, RH_KBLOCK_PARA, "Die Gemeinde betreibt die Abfallentsorgung.");
    ASSERT_EQ(find(&d, 0, "GELÖSCHT"), -1);
    long h2 = find(&d, RH_KBLOCK_HEADING, "Gebühren");
    ASSERT(h2 >= 0);
    ASSERT_EQ(d.blocks[h2].level, 2);
    long h3 = find(&d, RH_KBLOCK_HEADING, "Unterabschnitt");
    ASSERT(h3 >= 0);
    ASSERT_EQ(d.blocks[h3].level, 3);
    ASSERT_BLOCK(&d, RH_KBLOCK_PARA, "• Restmüll");
    ASSERT_BLOCK(&d, RH_KBLOCK_PARA, "1. Erstens");
    ASSERT_BLOCK(&d, RH_KBLOCK_PARA, "2. Zweitens");
    ASSERT_BLOCK(&d, RH_KBLOCK_PARA, "Behälter | Gebühr");
    ASSERT_BLOCK(&d, RH_KBLOCK_PARA, "120 Liter | 85 Euro");
    ASSERT_BLOCK(&d, RH_KBLOCK_PARA, "Im Inhaltssteuerelement");
    ASSERT(h1 < h2 && h2 < find(&d, 0, "Behälter"));
    ASSERT_EQ(d.blocks[0].page, 0);
    rh_kdoc_free(&d);
    rh_free(z);
}

TEST(ext_docx_not_docx)
{
    rh_kdoc d;
    rh_error err;
    /* a zip without word/document.xml */
    zent e[] = {{"hello.txt", "hallo", 0}};
    size_t len;
    char *z = make_zip(e, 1, &len);
    ASSERT_EQ(run(rh_extract_docx, z, len, &d, &err), RH_EFORMAT);
    ASSERT(strstr(err.msg, "DOCX"));
    rh_kdoc_free(&d);
    /* truncated archive */
    char *full = make_docx(docx_doc, &len);
    for (size_t cut = 10; cut < len; cut += len / 7) {
        int rc = run(rh_extract_docx, full, cut, &d, &err);
        ASSERT(rc != RH_OK);
        ASSERT(strstr(err.msg, "DOCX"));
        rh_kdoc_free(&d);
    }
    /* corrupt compressed data: flip bytes in the middle */
    char *bad = rh_malloc(len);
    memcpy(bad, full, len);
    for (size_t i = len / 3; i < len / 3 + 40; i++)
        bad[i] ^= 0x5A;
    int rc = run(rh_extract_docx, bad, len, &d, &err);
    ASSERT(rc == RH_OK || err.msg[0]);
    rh_kdoc_free(&d);
    rh_free(bad);
    rh_free(full);
    rh_free(z);
}

/* ---- ODT ---- */

static const char odt_content[] =
    "<?xml version=\"1.0\" encoding=\"UTF-8\"?><office:document-content "
    "xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" "
    "xmlns:text=\"urn:oasis:names:tc:opendocument:xmlns:text:1.0\" "
    "xmlns:table=\"urn:oasis:names:tc:opendocument:xmlns:table:1.0\">"
    "<office:automatic-styles><text:list-style style:name=\"L2\" "
    "xmlns:style=\"urn:oasis:names:tc:opendocument:xmlns:style:1.0\">"
    "<text:list-level-style-number text:level=\"1\" style:num-format=\"1\"/>"
    "<text:list-level-style-bullet text:level=\"2\" text:bullet-char=\"-\"/>"
    "</text:list-style></office:automatic-styles>"
    "<office:body><office:text>"
    "<text:h text:outline-level=\"1\">Hauptsatzung</text:h>"
    "<text:p>Die Gemeinde<text:s/>führt ein <text:span>Dienstsiegel</text:span>.</text:p>"
    "<text:h text:outline-level=\"2\">Organe</text:h>"
    "<text:list><text:list-item><text:p>Gemeinderat</text:p></text:list-item>"
    "<text:list-item><text:p>Bürgermeister</text:p></text:list-item></text:list>"
    "<text:list text:style-name=\"L2\"><text:list-item><text:p>Eins</text:p></text:list-item>"
    "<text:list-item><text:p>Zwei</text:p><text:list><text:list-item><text:p>Unterpunkt</text:p>"
    "</text:list-item></text:list></text:list-item></text:list>"
    "<table:table table:name=\"T1\"><table:table-row><table:table-cell><text:p>Amt</text:p></table:table-cell>"
    "<table:table-cell><text:p>Telefon</text:p></table:table-cell></table:table-row>"
    "<table:table-row><table:table-cell><text:p>Bauamt</text:p></table:table-cell>"
    "<table:table-cell><text:p>0123 456</text:p></table:table-cell></table:table-row></table:table>"
    "<text:section><text:p>In einem Abschnitt<office:annotation><text:p>KOMMENTAR</text:p>"
    "</office:annotation></text:p></text:section>"
    "</office:text></office:body></office:document-content>";

static const char odt_meta[] =
    "<?xml version=\"1.0\"?><office:document-meta "
    "xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" "
    "xmlns:dc=\"http://purl.org/dc/elements/1.1/\"><office:meta><dc:title>Hauptsatzung der "
    "Gemeinde</dc:title></office:meta></office:document-meta>";

TEST(ext_odt_basic)
{
    zent e[] = {{"mimetype", "application/vnd.oasis.opendocument.text", 0},
                {"content.xml", odt_content, 0},
                {"meta.xml", odt_meta, 0}};
    size_t len;
    char *z = make_zip(e, 3, &len);
    rh_kdoc d;
    rh_error err;
    ASSERT_EQ(run(rh_extract_odt, z, len, &d, &err), RH_OK);
    ASSERT_STREQ(d.title, "Hauptsatzung der Gemeinde");
    long h = find(&d, RH_KBLOCK_HEADING, "Hauptsatzung");
    ASSERT(h >= 0 && d.blocks[h].level == 1);
    h = find(&d, RH_KBLOCK_HEADING, "Organe");
    ASSERT(h >= 0 && d.blocks[h].level == 2);
    ASSERT_BLOCK(&d, RH_KBLOCK_PARA, "Die Gemeinde führt ein Dienstsiegel.");
    ASSERT_BLOCK(&d, RH_KBLOCK_PARA, "• Gemeinderat");
    ASSERT_BLOCK(&d, RH_KBLOCK_PARA, "• Bürgermeister");
    ASSERT_BLOCK(&d, RH_KBLOCK_PARA, "1. Eins");
    ASSERT_BLOCK(&d, RH_KBLOCK_PARA, "2. Zwei");
    ASSERT_BLOCK(&d, RH_KBLOCK_PARA, "• Unterpunkt");
    ASSERT_BLOCK(&d, RH_KBLOCK_PARA, "Amt | Telefon");
    ASSERT_BLOCK(&d, RH_KBLOCK_PARA, "Bauamt | 0123 456");
    ASSERT_BLOCK(&d, RH_KBLOCK_PARA, "In einem Abschnitt");
    ASSERT_EQ(find(&d, 0, "KOMMENTAR"), -1);
    rh_kdoc_free(&d);
    rh_free(z);
}

/* ---- XLSX / ODS / CSV ---- */

TEST(ext_xlsx_basic)
{
    static const char wb[] =
        "<?xml version=\"1.0\"?><workbook "
        "xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\" "
        "xmlns:r=\"http://schemas.openxmlformats.org/officeDocument/2006/relationships\">"
        "<sheets><sheet name=\"Gebühren\" sheetId=\"1\" r:id=\"rId1\"/>"
        "<sheet name=\"Leer\" sheetId=\"2\" r:id=\"rId2\"/></sheets></workbook>";
    static const char rels[] =
        "<?xml version=\"1.0\"?><Relationships "
        "xmlns=\"http://schemas.openxmlformats.org/package/2006/relationships\">"
        "<Relationship Id=\"rId1\" Target=\"worksheets/sheet1.xml\" Type=\"x\"/>"
        "<Relationship Id=\"rId2\" Target=\"/xl/worksheets/sheet2.xml\" Type=\"x\"/>"
        "</Relationships>";
    static const char ss[] =
        "<?xml version=\"1.0\"?><sst xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">"
        "<si><t>Leistung</t></si><si><t>Betrag</t></si><si><r><t>Müll</t></r><r><t>abfuhr</t></r></si></sst>";
    static const char s1[] =
        "<?xml version=\"1.0\"?><worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">"
        "<sheetData><row r=\"1\"><c r=\"A1\" t=\"s\"><v>0</v></c><c r=\"B1\" t=\"s\"><v>1</v></c></row>"
        "<row r=\"2\"><c r=\"A2\" t=\"s\"><v>2</v></c><c r=\"B2\"><v>12.5</v></c></row>"
        "<row r=\"3\"><c r=\"A3\" t=\"inlineStr\"><is><t>Inline</t></is></c>"
        "<c r=\"C3\" t=\"b\"><v>1</v></c><c r=\"D3\" t=\"s\"><v>99</v></c></row>"
        "<row r=\"4\"><c r=\"XFD4\"><v>7</v></c></row>"
        "<row r=\"5\"><c r=\"A5\" s=\"1\"><v>45658</v></c><c r=\"B5\" s=\"2\"><v>45658.5</v></c>"
        "<c r=\"C5\" s=\"3\"><v>59</v></c><c r=\"D5\" s=\"0\"><v>45658</v></c><c r=\"E5\" s=\"9\"><v>1</v></c></row>"
        "</sheetData></worksheet>";
    static const char s2[] =
        "<?xml version=\"1.0\"?><worksheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">"
        "<sheetData/></worksheet>";
    static const char styles[] =
        "<?xml version=\"1.0\"?><styleSheet xmlns=\"http://schemas.openxmlformats.org/spreadsheetml/2006/main\">"
        "<numFmts count=\"1\"><numFmt numFmtId=\"164\" formatCode=\"dd/mm/yyyy&quot;r&quot;\"/>"
        "<numFmt numFmtId=\"165\" formatCode=\"0.00&quot; d&quot;\"/></numFmts>"
        "<cellXfs count=\"4\"><xf numFmtId=\"165\"/><xf numFmtId=\"14\"/><xf numFmtId=\"22\"/>"
        "<xf numFmtId=\"164\"/></cellXfs></styleSheet>";
    zent e[] = {{"xl/workbook.xml", wb, 0},
                {"xl/_rels/workbook.xml.rels", rels, 0},
                {"xl/sharedStrings.xml", ss, 0},
                {"xl/worksheets/sheet1.xml", s1, 0},
                {"xl/worksheets/sheet2.xml", s2, 0},
                {"xl/styles.xml", styles, 0}};
    size_t len;
    char *z = make_zip(e, 6, &len);
    rh_kdoc d;
    rh_error err;
    ASSERT_EQ(run(rh_extract_xlsx, z, len, &d, &err), RH_OK);
    ASSERT_BLOCK(&d, RH_KBLOCK_HEADING, "Gebühren");
    ASSERT_BLOCK(&d, RH_KBLOCK_HEADING, "Leer");
    ASSERT_BLOCK(&d, RH_KBLOCK_PARA, "Leistung | Betrag");
    ASSERT_BLOCK(&d, RH_KBLOCK_PARA, "Müllabfuhr | 12.5");
    ASSERT_BLOCK(&d, RH_KBLOCK_PARA, "Inline | | WAHR");
    ASSERT_EQ(find(&d, 0, "7"), -1); /* column XFD is past the column cap */
    /* dates: 45658 = 1 Jan 2025; serial 59 = 28 Feb 1900; format 165 is no date */
    ASSERT_BLOCK(&d, RH_KBLOCK_PARA, "01.01.2025 | 01.01.2025 12:00 | 28.02.1900 | 45658 | 1");
    rh_kdoc_free(&d);
    rh_free(z);
}

TEST(ext_ods_basic)
{
    static const char content[] =
        "<?xml version=\"1.0\"?><office:document-content "
        "xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" "
        "xmlns:text=\"urn:oasis:names:tc:opendocument:xmlns:text:1.0\" "
        "xmlns:table=\"urn:oasis:names:tc:opendocument:xmlns:table:1.0\">"
        "<office:body><office:spreadsheet><table:table table:name=\"Haushalt 2025\">"
        "<table:table-header-rows><table:table-row><table:table-cell><text:p>Posten</text:p></table:table-cell>"
        "<table:table-cell table:number-columns-repeated=\"2\"/>"
        "<table:table-cell><text:p>Ansatz</text:p></table:table-cell></table:table-row></table:table-header-rows>"
        "<table:table-row table:number-rows-repeated=\"3\"><table:table-cell><text:p>gleich</text:p></table:table-cell></table:table-row>"
        "<table:table-row table:number-rows-repeated=\"1048000\"><table:table-cell table:number-columns-repeated=\"16384\"/></table:table-row>"
        "<table:table-row><table:table-cell table:number-columns-repeated=\"2000000000\"><text:p>x</text:p></table:table-cell></table:table-row>"
        "</table:table></office:spreadsheet></office:body></office:document-content>";
    zent e[] = {{"content.xml", content, 0}};
    size_t len;
    char *z = make_zip(e, 1, &len);
    rh_kdoc d;
    rh_error err;
    ASSERT_EQ(run(rh_extract_ods, z, len, &d, &err), RH_OK);
    ASSERT_BLOCK(&d, RH_KBLOCK_HEADING, "Haushalt 2025");
    ASSERT_BLOCK(&d, RH_KBLOCK_PARA, "Posten | | | Ansatz");
    int same = 0;
    size_t xs = 0;
    for (size_t i = 0; i < d.n; i++) {
        if (strcmp(d.blocks[i].text, "gleich") == 0)
            same++;
        if (d.blocks[i].text[0] == 'x')
            xs = d.blocks[i].len;
    }
    ASSERT_EQ(same, 3);
    ASSERT(xs > 0 && xs < 1024 * 4 + 10); /* capped at 1024 columns */
    rh_kdoc_free(&d);
    rh_free(z);
}

TEST(ext_csv)
{
    rh_kdoc d;
    rh_error err;
    const char semi[] = "Name;Straße;Betrag\r\n\"Müller; Hans\";\"Haupt\"\"str\"\" 1\";12,50\r\n"
                        "\"mehr\nzeilig\";b;c\r\n;;\r\n";
    ASSERT_EQ(run(rh_extract_csv, semi, strlen(semi), &d, &err), RH_OK);
    ASSERT_BLOCK(&d, RH_KBLOCK_PARA, "Name | Straße | Betrag");
    ASSERT_BLOCK(&d, RH_KBLOCK_PARA, "Müller; Hans | Haupt\"str\" 1 | 12,50");
    ASSERT_BLOCK(&d, RH_KBLOCK_PARA, "mehr zeilig | b | c");
    ASSERT_EQ(d.n, 3);
    rh_kdoc_free(&d);
    const char comma[] = "a,b,c\n1,2,3\n";
    ASSERT_EQ(run(rh_extract_csv, comma, strlen(comma), &d, &err), RH_OK);
    ASSERT_BLOCK(&d, RH_KBLOCK_PARA, "1 | 2 | 3");
    rh_kdoc_free(&d);
    const char tab[] = "Ort\tEinwohner, gesamt\nAhausen\t1.200\n";
    ASSERT_EQ(run(rh_extract_csv, tab, strlen(tab), &d, &err), RH_OK);
    ASSERT_BLOCK(&d, RH_KBLOCK_PARA, "Ort | Einwohner, gesamt");
    rh_kdoc_free(&d);
    const char cp[] = "Gr\xfc\xdf" "e;\x80\n";
    ASSERT_EQ(run(rh_extract_csv, cp, strlen(cp), &d, &err), RH_OK);
    ASSERT_BLOCK(&d, RH_KBLOCK_PARA, "Grüße | €");
    rh_kdoc_free(&d);
    const char bin[] = "a;b\0c";
    ASSERT_EQ(run(rh_extract_csv, bin, sizeof bin, &d, &err), RH_EFORMAT);
    rh_kdoc_free(&d);
}

/* ---- e-mail ---- */

TEST(ext_eml_plain)
{
    const char m[] = "Return-Path: <a@b>\r\n"
                     "From: =?UTF-8?B?SsO8cmdlbiBNw7xsbGVy?= <jm@example.org>\r\n"
                     "To: bauamt@gemeinde.example\r\n"
                     "Subject: =?ISO-8859-1?Q?Antrag_auf_Baugenehmigung_f=FCr?=\r\n"
                     " =?ISO-8859-15?Q?_das_Grundst=FCck_=A4?= Nr. 5\r\n"
                     "Date: Mon, 3 Mar 2025 10:00:00 +0100\r\n"
                     "MIME-Version: 1.0\r\n"
                     "Content-Type: text/plain; charset=iso-8859-1\r\n"
                     "Content-Transfer-Encoding: quoted-printable\r\n"
                     "\r\n"
                     "Sehr geehrte Damen und Herren,\r\n"
                     "\r\n"
                     "ich beantrage die Genehmigung f=FCr einen Carport mit einer sehr langen =\r\n"
                     "Zeile.\r\n";
    rh_kdoc d;
    rh_error err;
    ASSERT_EQ(run(rh_extract_eml, m, strlen(m), &d, &err), RH_OK);
    ASSERT_STREQ(d.title, "Antrag auf Baugenehmigung für das Grundstück € Nr. 5");
    ASSERT_BLOCK(&d, RH_KBLOCK_PARA, "Von: Jürgen Müller <jm@example.org>");
    ASSERT_BLOCK(&d, RH_KBLOCK_PARA, "Datum: Mon, 3 Mar 2025");
    ASSERT_BLOCK(&d, RH_KBLOCK_PARA, "Sehr geehrte Damen und Herren,");
    ASSERT_BLOCK(&d, RH_KBLOCK_PARA, "Genehmigung für einen Carport mit einer sehr langen Zeile.");
    rh_kdoc_free(&d);
    ASSERT_EQ(run(rh_extract_eml, "kein mail", 9, &d, &err), RH_EFORMAT);
    rh_kdoc_free(&d);
}

TEST(ext_eml_multipart)
{
    /* base64 of "Amt;Telefon\nBauamt;123\n" and of a tiny nested mail */
    const char m[] =
        "From: a@example.org\nSubject: Unterlagen\nMIME-Version: 1.0\n"
        "Content-Type: multipart/mixed; boundary=\"XX\"\n\npreamble\n"
        "--XX\nContent-Type: multipart/alternative; boundary=YY\n\n"
        "--YY\nContent-Type: text/html; charset=utf-8\n\n<p>NURHTML</p>\n"
        "--YY\nContent-Type: text/plain; charset=windows-1252\n"
        "Content-Transfer-Encoding: 8bit\n\nText \x84zitiert\x93 hier\n--YY--\n"
        "--XX\nContent-Type: text/csv\n"
        "Content-Disposition: attachment; filename*=UTF-8''Telefonliste%20B%C3%BCro.csv\n"
        "Content-Transfer-Encoding: base64\n\nQW10O1RlbGVmb24KQmF1YW10OzEyMwo=\n"
        "--XX\nContent-Type: message/rfc822\n\n"
        "From: b@example.org\nSubject: Innen\n\nInnere Nachricht\n"
        "--XX\nContent-Type: application/octet-stream; name=\"x.bin\"\n\nxxxx\n"
        "--XX--\nepilogue\n";
    rh_kdoc d;
    rh_error err;
    ASSERT_EQ(run(rh_extract_eml, m, strlen(m), &d, &err), RH_OK);
    ASSERT_STREQ(d.title, "Unterlagen");
    ASSERT_BLOCK(&d, RH_KBLOCK_PARA, "Text „zitiert“ hier");
    ASSERT_EQ(find(&d, 0, "NURHTML"), -1);
    ASSERT_EQ(find(&d, 0, "preamble"), -1);
    ASSERT_EQ(find(&d, 0, "epilogue"), -1);
    long a = find(&d, RH_KBLOCK_HEADING, "Anhang: Telefonliste Büro.csv");
    ASSERT(a >= 0);
    ASSERT_EQ(d.blocks[a].level, 2);
    ASSERT(find(&d, RH_KBLOCK_PARA, "Bauamt | 123") > a);
    ASSERT_BLOCK(&d, RH_KBLOCK_PARA, "Innere Nachricht");
    rh_kdoc_free(&d);

    const char html[] = "From: a@example.org\nSubject: H\nContent-Type: text/html; charset=iso-8859-1\n\n"
                        "<html><body><h2>\xdc" "berschrift</h2><p>Gr\xfc\xdf" "e</p></body></html>\n";
    ASSERT_EQ(run(rh_extract_eml, html, strlen(html), &d, &err), RH_OK);
    ASSERT_BLOCK(&d, RH_KBLOCK_HEADING, "Überschrift");
    ASSERT_BLOCK(&d, RH_KBLOCK_PARA, "Grüße");
    rh_kdoc_free(&d);
}

TEST(ext_eml_nesting_bounded)
{
    /* a mail in a mail in a mail ... 12 levels: bounded, no crash */
    rh_buf b;
    rh_buf_init(&b, 1 << 20);
    for (int i = 0; i < 12; i++)
        ASSERT_EQ(rh_buf_appendf(&b, "From: x@y\nSubject: L%d\nContent-Type: multipart/mixed; "
                                     "boundary=B%d\n\n--B%d\nContent-Type: text/plain\n\nTiefe%d\n"
                                     "--B%d\nContent-Type: message/rfc822\n\n",
                                 i, i, i, i, i),
                  RH_OK);
    rh_kdoc d;
    rh_error err;
    ASSERT_EQ(run(rh_extract_eml, b.data, b.len, &d, &err), RH_OK);
    ASSERT(find(&d, 0, "Tiefe0") >= 0);
    ASSERT(find(&d, 0, "Tiefe3") >= 0);
    ASSERT_EQ(find(&d, 0, "Tiefe5"), -1);
    rh_kdoc_free(&d);
    rh_buf_free(&b);
}

/* ---- PDF ---- */

/* A PDF with the given page content streams (Helvetica F1, Helvetica-Bold
 * F2, WinAnsi), with a correct xref table. `count` overrides /Count. */
static char *make_pdf(const char *const *pages, int n, long count, size_t *len)
{
    rh_buf b;
    rh_buf_init(&b, 64 << 20);
    long off[64];
    int obj = 0;
    ASSERT(n <= 20);
    ASSERT_EQ(rh_buf_appends(&b, "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n"), RH_OK);
#define OBJ_BEGIN() (off[++obj] = (long)b.len, rh_buf_appendf(&b, "%d 0 obj\n", obj))
    OBJ_BEGIN();
    rh_buf_appends(&b, "<< /Type /Catalog /Pages 2 0 R >>\nendobj\n");
    OBJ_BEGIN();
    rh_buf_appends(&b, "<< /Type /Pages /Kids [");
    for (int i = 0; i < n; i++)
        rh_buf_appendf(&b, " %d 0 R", 5 + 2 * i);
    rh_buf_appendf(&b, " ] /Count %ld >>\nendobj\n", count ? count : n);
    OBJ_BEGIN();
    rh_buf_appends(&b, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding "
                       "/WinAnsiEncoding >>\nendobj\n");
    OBJ_BEGIN();
    rh_buf_appends(&b, "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding "
                       "/WinAnsiEncoding >>\nendobj\n");
    for (int i = 0; i < n; i++) {
        OBJ_BEGIN();
        rh_buf_appendf(&b, "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources "
                           "<< /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents %d 0 R >>\nendobj\n",
                       6 + 2 * i);
        OBJ_BEGIN();
        rh_buf_appendf(&b, "<< /Length %zu >>\nstream\n%s\nendstream\nendobj\n",
                       strlen(pages[i]) + 1, pages[i]);
    }
    long xref = (long)b.len;
    rh_buf_appendf(&b, "xref\n0 %d\n0000000000 65535 f \n", obj + 1);
    for (int i = 1; i <= obj; i++)
        rh_buf_appendf(&b, "%010ld 00000 n \n", off[i]);
    ASSERT_EQ(rh_buf_appendf(&b, "trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%ld\n%%%%EOF\n",
                             obj + 1, xref),
              RH_OK);
#undef OBJ_BEGIN
    return rh_buf_take(&b, len);
}

static const char *const pdf_pages[] = {
    "BT /F1 24 Tf 72 760 Td (Bauordnung der Gemeinde) Tj ET\n"
    "BT /F1 16 Tf 72 700 Td (Abschnitt 1 Allgemeines) Tj ET\n"
    "BT /F1 11 Tf 72 660 Td (Dieser Absatz beschreibt die Grundst\\374cke im Gebiet und die Bau-) Tj "
    "0 -14 Td (genehmigung nach der Landesbauordnung mit weiteren Worten.) Tj ET\n"
    "BT /F2 11 Tf 72 600 Td (Wichtiger Hinweis) Tj ET\n"
    "BT /F1 11 Tf 72 570 Td (Ein weiterer Absatz mit ganz normalem Text im Textk\\366rper.) Tj "
    "0 -14 Td (Er hat ebenfalls eine zweite Zeile, damit der Text \\374berwiegt.) Tj ET\n",
    "BT /F1 16 Tf 72 760 Td (Abschnitt 2 Verfahren) Tj ET\n"
    "BT /F1 11 Tf 72 720 Td (Text auf der zweiten Seite mit dem Verfahren der Beh\\366rde.) Tj ET\n"
    "BT /F1 11 Tf 72 40 Td (2) Tj ET\n",
};

TEST(ext_pdf_text)
{
    size_t len;
    char *pdf = make_pdf(pdf_pages, 2, 0, &len);
    rh_kdoc d;
    rh_error err;
    ASSERT_EQ(run(rh_extract_pdf, pdf, len, &d, &err), RH_OK);
    long h = find(&d, RH_KBLOCK_HEADING, "Bauordnung der Gemeinde");
    if (h < 0)
        dump(&d);
    ASSERT(h >= 0);
    ASSERT_EQ(d.blocks[h].level, 1);
    ASSERT_EQ(d.blocks[h].page, 1);
    long h2 = find(&d, RH_KBLOCK_HEADING, "Abschnitt 1 Allgemeines");
    ASSERT(h2 > h);
    ASSERT_EQ(d.blocks[h2].level, 2);
    long p = find(&d, RH_KBLOCK_PARA, "Grundstücke im Gebiet und die Baugenehmigung nach");
    if (p < 0)
        dump(&d);
    ASSERT(p > h2);
    long hb = find(&d, RH_KBLOCK_HEADING, "Wichtiger Hinweis");
    if (hb < 0)
        dump(&d);
    ASSERT(hb > p);
    ASSERT_EQ(d.blocks[hb].level, 3);
    ASSERT_BLOCK(&d, RH_KBLOCK_PARA, "Textkörper");
    long s2 = find(&d, RH_KBLOCK_HEADING, "Abschnitt 2 Verfahren");
    ASSERT(s2 > hb);
    ASSERT_EQ(d.blocks[s2].level, 2);
    ASSERT_EQ(d.blocks[s2].page, 2);
    long t2 = find(&d, RH_KBLOCK_PARA, "zweiten Seite");
    ASSERT(t2 > s2);
    ASSERT_EQ(d.blocks[t2].page, 2);
    for (size_t i = 0; i < d.n; i++)
        ASSERT(d.blocks[i].page >= 1 && d.blocks[i].page <= 2);
    rh_kdoc_free(&d);
    rh_free(pdf);
}

TEST(ext_pdf_running_headers)
{
    char pages[4][512];
    const char *pp[4];
    for (int i = 0; i < 4; i++) {
        snprintf(pages[i], sizeof pages[i],
                 "BT /F1 9 Tf 72 815 Td (Amtsblatt der Gemeinde Musterstadt) Tj ET\n"
                 "BT /F1 11 Tf 72 700 Td (Inhalt der Seite %d mit einem normalen Absatz Text.) Tj ET\n"
                 "BT /F1 9 Tf 280 20 Td (Seite %d von 4) Tj ET\n"
                 "BT /F1 9 Tf 500 20 Td (- %d -) Tj ET\n",
                 i + 1, i + 1, i + 1);
        pp[i] = pages[i];
    }
    size_t len;
    char *pdf = make_pdf(pp, 4, 0, &len);
    rh_kdoc d;
    rh_error err;
    ASSERT_EQ(run(rh_extract_pdf, pdf, len, &d, &err), RH_OK);
    ASSERT_BLOCK(&d, RH_KBLOCK_PARA, "Inhalt der Seite 3");
    if (d.n != 4)
        dump(&d);
    ASSERT_EQ(d.n, 4);
    ASSERT_EQ(find(&d, 0, "Amtsblatt"), -1);
    ASSERT_EQ(find(&d, 0, "von 4"), -1);
    rh_kdoc_free(&d);
    rh_free(pdf);
}

TEST(ext_pdf_hostile)
{
    rh_kdoc d;
    rh_error err;
    size_t len;
    /* a page tree that claims two billion pages */
    char *pdf = make_pdf(pdf_pages, 1, 2000000000L, &len);
    double t0 = rh_monotonic_seconds();
    int rc = run(rh_extract_pdf, pdf, len, &d, &err);
    ASSERT(rc == RH_OK || err.msg[0]);
    ASSERT(rh_monotonic_seconds() - t0 < 20);
    rh_kdoc_free(&d);
    /* truncated and garbled copies */
    rh_free(pdf);
    pdf = make_pdf(pdf_pages, 2, 0, &len);
    for (size_t cut = 0; cut < len; cut += len / 9 + 1) {
        rc = run(rh_extract_pdf, pdf, cut, &d, &err);
        ASSERT(rc == RH_OK || err.msg[0]);
        rh_kdoc_free(&d);
    }
    for (size_t i = 20; i < len; i += 37)
        pdf[i] = (char)(pdf[i] * 7 + 3);
    rc = run(rh_extract_pdf, pdf, len, &d, &err);
    ASSERT(rc == RH_OK || err.msg[0]);
    rh_kdoc_free(&d);
    /* the deadline has passed: a clear limit error, also inside MuPDF */
    rh_free(pdf);
    pdf = make_pdf(pdf_pages, 2, 0, &len);
    rh_kdoc_init(&d, 1 << 20, rh_monotonic_seconds() - 1);
    rh_error_clear(&err);
    ASSERT_EQ(rh_extract_pdf(pdf, len, &d, &err), RH_ELIMIT);
    ASSERT(err.msg[0]);
    rh_kdoc_free(&d);
    const char junk[] = "%PDF-1.7\nthis is not a pdf at all\n%%EOF\n";
    rc = run(rh_extract_pdf, junk, strlen(junk), &d, &err);
    ASSERT(rc == RH_OK || err.msg[0]);
    rh_kdoc_free(&d);
    ASSERT_EQ(run(rh_extract_pdf, "hello", 5, &d, &err), RH_EFORMAT);
    rh_kdoc_free(&d);
    rh_free(pdf);
}

/* Render a PDF page with text to a gray pixmap (MuPDF). */
static fz_pixmap *render_text(fz_context *ctx, const char *content, float dpi)
{
    const char *pages[1] = {content};
    size_t len;
    char *pdf = make_pdf(pages, 1, 0, &len);
    fz_pixmap *volatile pix = NULL;
    fz_stream *volatile stm = NULL;
    fz_document *volatile doc = NULL;
    fz_page *volatile page = NULL;
    fz_try(ctx)
    {
        stm = fz_open_memory(ctx, (const unsigned char *)pdf, len);
        doc = (fz_document *)pdf_open_document_with_stream(ctx, stm);
        page = fz_load_page(ctx, doc, 0);
        pix = fz_new_pixmap_from_page(ctx, page, fz_scale(dpi / 72, dpi / 72), fz_device_gray(ctx), 0);
    }
    fz_always(ctx)
    {
        fz_drop_page(ctx, page);
        fz_drop_document(ctx, doc);
        fz_drop_stream(ctx, stm);
    }
    fz_catch(ctx)
    {
        pix = NULL;
    }
    rh_free(pdf);
    return pix;
}

static const char ocr_page[] =
    "BT /F1 22 Tf 60 700 Td (Baugenehmigung der Gemeinde Musterstadt) Tj ET\n"
    "BT /F1 22 Tf 60 640 Td (Der Antrag wurde am Montag genehmigt.) Tj ET\n"
    "BT /F1 22 Tf 60 560 Td (Die schriftliche Bau-) Tj 0 -26 Td (genehmigung liegt vor.) Tj ET\n";

TEST_TIMEOUT(ext_image_ocr, 120)
{
    if (!rh_ocr_available())
        SKIP("Tesseract with German data (tesseract-ocr-deu) is not installed");
    fz_context *ctx = rh_mupdf_new();
    ASSERT(ctx);
    fz_pixmap *pix = render_text(ctx, ocr_page, 200);
    ASSERT(pix);
    fz_buffer *volatile png = NULL;
    fz_try(ctx)
    {
        png = fz_new_buffer_from_pixmap_as_png(ctx, pix, fz_default_color_params);
    }
    fz_catch(ctx)
    {
        png = NULL;
    }
    ASSERT(png);
    unsigned char *data;
    size_t len = fz_buffer_storage(ctx, png, &data);
    rh_kdoc d;
    rh_error err;
    ASSERT_EQ(run(rh_extract_image, (const char *)data, len, &d, &err), RH_OK);
    if (!any_text(&d, "Baugenehmigung") || !any_text(&d, "Gemeinde"))
        dump(&d);
    ASSERT(any_text(&d, "Baugenehmigung"));
    ASSERT(any_text(&d, "Gemeinde"));
    if (!any_text(&d, "Baugenehmigung liegt vor"))
        dump(&d);
    ASSERT(any_text(&d, "Baugenehmigung liegt vor")); /* joined across the line break */
    rh_kdoc_free(&d);
    /* a truncated PNG (error or nothing read) and a header claiming a gigantic image */
    int rc = run(rh_extract_image, (const char *)data, 60, &d, &err);
    ASSERT(rc != RH_OK ? err.msg[0] != 0 : d.n == 0);
    rh_kdoc_free(&d);
    unsigned char big[64];
    memcpy(big, data, sizeof big);
    big[16] = 0x7f; /* width  = 0x7f...... */
    big[20] = 0x7f; /* height = 0x7f...... */
    ASSERT(run(rh_extract_image, (const char *)big, sizeof big, &d, &err) != RH_OK);
    ASSERT(err.msg[0]);
    rh_kdoc_free(&d);
    fz_drop_buffer(ctx, png);
    fz_drop_pixmap(ctx, pix);
    rh_mupdf_drop(ctx);
}

/* An uncompressed 8-bit gray TIFF with one page per pixmap (little endian). */
static char *make_tiff(fz_context *ctx, fz_pixmap **pix, int n, size_t *len)
{
    rh_buf b;
    rh_buf_init(&b, 256 << 20);
    ASSERT_EQ(rh_buf_append(&b, "II*\0\0\0\0\0", 8), RH_OK);
    size_t link = 4; /* where the offset of the next IFD goes */
    for (int p = 0; p < n; p++) {
        int w = fz_pixmap_width(ctx, pix[p]), h = fz_pixmap_height(ctx, pix[p]);
        ptrdiff_t stride = fz_pixmap_stride(ctx, pix[p]);
        const unsigned char *smp = fz_pixmap_samples(ctx, pix[p]);
        uint32_t data_off = (uint32_t)b.len;
        for (int y = 0; y < h; y++)
            ASSERT_EQ(rh_buf_append(&b, smp + y * stride, (size_t)w), RH_OK);
        if (b.len % 2)
            rh_buf_append(&b, "", 1);
        uint32_t ifd = (uint32_t)b.len;
        memcpy(b.data + link, &ifd, 4);
        const uint16_t tags[9][2] = {{256, 4}, {257, 4}, {258, 3}, {259, 3}, {262, 3},
                                     {273, 4}, {277, 3}, {278, 4}, {279, 4}};
        const uint32_t vals[9] = {(uint32_t)w, (uint32_t)h, 8, 1, 1, data_off, 1, (uint32_t)h,
                                  (uint32_t)(w * h)};
        uint16_t cnt = 9;
        rh_buf_append(&b, &cnt, 2);
        for (int t = 0; t < 9; t++) {
            uint32_t one = 1, v = vals[t];
            rh_buf_append(&b, &tags[t][0], 2);
            rh_buf_append(&b, &tags[t][1], 2);
            rh_buf_append(&b, &one, 4);
            if (tags[t][1] == 3) {
                uint16_t v16 = (uint16_t)v, z = 0;
                rh_buf_append(&b, &v16, 2);
                rh_buf_append(&b, &z, 2);
            } else {
                rh_buf_append(&b, &v, 4);
            }
        }
        link = b.len;
        uint32_t next = 0;
        ASSERT_EQ(rh_buf_append(&b, &next, 4), RH_OK);
    }
    return rh_buf_take(&b, len);
}

TEST_TIMEOUT(ext_tiff_pages_ocr, 120)
{
    if (!rh_ocr_available())
        SKIP("Tesseract with German data (tesseract-ocr-deu) is not installed");
    fz_context *ctx = rh_mupdf_new();
    ASSERT(ctx);
    fz_pixmap *pix[2];
    pix[0] = render_text(ctx, "BT /F1 24 Tf 60 760 Td (Erste Seite Gemeinde) Tj ET", 150);
    pix[1] = render_text(ctx, "BT /F1 24 Tf 60 760 Td (Zweite Seite Baugenehmigung) Tj ET", 150);
    ASSERT(pix[0] && pix[1]);
    size_t len;
    char *tif = make_tiff(ctx, pix, 2, &len);
    rh_kdoc d;
    rh_error err;
    ASSERT_EQ(run(rh_extract_image, tif, len, &d, &err), RH_OK);
    long a = find(&d, 0, "Gemeinde"), b = find(&d, 0, "Baugenehmigung");
    if (a < 0 || b < 0)
        dump(&d);
    ASSERT(a >= 0 && b > a);
    ASSERT_EQ(d.blocks[a].page, 1);
    ASSERT_EQ(d.blocks[b].page, 2);
    rh_kdoc_free(&d);
    /* truncated: the second page's data is cut off */
    int rc = run(rh_extract_image, tif, len / 2 + 100, &d, &err);
    ASSERT(rc == RH_OK || err.msg[0]);
    rh_kdoc_free(&d);
    rh_free(tif);
    fz_drop_pixmap(ctx, pix[0]);
    fz_drop_pixmap(ctx, pix[1]);
    rh_mupdf_drop(ctx);
}

TEST_TIMEOUT(ext_pdf_scanned_ocr, 120)
{
    if (!rh_ocr_available())
        SKIP("Tesseract with German data (tesseract-ocr-deu) is not installed");
    fz_context *ctx = rh_mupdf_new();
    ASSERT(ctx);
    fz_pixmap *pix = render_text(ctx, ocr_page, 150);
    ASSERT(pix);
    int w = fz_pixmap_width(ctx, pix), h = fz_pixmap_height(ctx, pix);
    ASSERT_EQ(fz_pixmap_components(ctx, pix), 1);
    const unsigned char *s = fz_pixmap_samples(ctx, pix);
    ptrdiff_t stride = fz_pixmap_stride(ctx, pix);
    /* an image-only PDF: page 1 the scan, page 2 a text page */
    rh_buf b;
    rh_buf_init(&b, 64 << 20);
    long off[8];
    rh_buf_appends(&b, "%PDF-1.4\n");
    off[1] = (long)b.len;
    rh_buf_appends(&b, "1 0 obj\n<< /Type /Catalog /Pages 2 0 R >>\nendobj\n");
    off[2] = (long)b.len;
    rh_buf_appends(&b, "2 0 obj\n<< /Type /Pages /Kids [3 0 R 6 0 R] /Count 2 >>\nendobj\n");
    off[3] = (long)b.len;
    rh_buf_appends(&b, "3 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] "
                       "/Resources << /XObject << /Im1 4 0 R >> >> /Contents 5 0 R >>\nendobj\n");
    off[4] = (long)b.len;
    rh_buf_appendf(&b, "4 0 obj\n<< /Type /XObject /Subtype /Image /Width %d /Height %d "
                       "/ColorSpace /DeviceGray /BitsPerComponent 8 /Length %ld >>\nstream\n",
                   w, h, (long)w * h);
    for (int y = 0; y < h; y++)
        ASSERT_EQ(rh_buf_append(&b, s + y * stride, (size_t)w), RH_OK);
    rh_buf_appends(&b, "\nendstream\nendobj\n");
    const char cont[] = "q 595 0 0 842 0 0 cm /Im1 Do Q";
    off[5] = (long)b.len;
    rh_buf_appendf(&b, "5 0 obj\n<< /Length %zu >>\nstream\n%s\nendstream\nendobj\n",
                   strlen(cont), cont);
    const char cont2[] = "BT /F1 11 Tf 72 700 Td (Zweite Seite mit echtem Text, nicht gescannt.) Tj ET";
    off[6] = (long)b.len;
    rh_buf_appends(&b, "6 0 obj\n<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources "
                       "<< /Font << /F1 << /Type /Font /Subtype /Type1 /BaseFont /Helvetica >> >> >> "
                       "/Contents 7 0 R >>\nendobj\n");
    off[7] = (long)b.len;
    rh_buf_appendf(&b, "7 0 obj\n<< /Length %zu >>\nstream\n%s\nendstream\nendobj\n",
                   strlen(cont2), cont2);
    long xref = (long)b.len;
    rh_buf_appends(&b, "xref\n0 8\n0000000000 65535 f \n");
    for (int i = 1; i <= 7; i++)
        rh_buf_appendf(&b, "%010ld 00000 n \n", off[i]);
    ASSERT_EQ(rh_buf_appendf(&b, "trailer\n<< /Size 8 /Root 1 0 R >>\nstartxref\n%ld\n%%%%EOF\n",
                             xref),
              RH_OK);
    fz_drop_pixmap(ctx, pix);
    rh_mupdf_drop(ctx);

    rh_kdoc d;
    rh_error err;
    ASSERT_EQ(run(rh_extract_pdf, b.data, b.len, &d, &err), RH_OK);
    long k = find(&d, 0, "Baugenehmigung");
    if (k < 0 || find(&d, 0, "Gemeinde") < 0)
        dump(&d);
    ASSERT(k >= 0);
    ASSERT_EQ(d.blocks[k].page, 1);
    ASSERT(find(&d, 0, "Gemeinde") >= 0);
    long t = find(&d, 0, "Zweite Seite mit echtem Text");
    ASSERT(t > k);
    ASSERT_EQ(d.blocks[t].page, 2);
    rh_kdoc_free(&d);
    rh_buf_free(&b);
}

/* ---- hostile containers and XML ---- */

TEST(ext_zip_bomb)
{
    size_t big = (size_t)40 << 20;
    char *zeros = rh_calloc(1, big);
    ASSERT(zeros);
    memcpy(zeros, "<?xml version=\"1.0\"?><w:document " W_NS "><w:body><w:p><w:r><w:t>", 80);
    zent e[] = {{"word/document.xml", zeros, big}};
    size_t len;
    char *z = make_zip(e, 1, &len);
    rh_free(zeros);
    ASSERT(len < big / 100); /* highly compressible */
    rh_kdoc d;
    rh_error err;
    ASSERT_EQ(run(rh_extract_docx, z, len, &d, &err), RH_ELIMIT);
    ASSERT(strstr(err.msg, "ZIP-Bomben"));
    rh_kdoc_free(&d);
    rh_free(z);
}

TEST(ext_zip_many_entries)
{
    int n = 10050;
    zent *e = rh_calloc((size_t)n, sizeof *e);
    char(*names)[24] = rh_calloc((size_t)n, 24);
    ASSERT(e && names);
    for (int i = 0; i < n; i++) {
        snprintf(names[i], 24, "f%05d.xml", i);
        e[i] = (zent){names[i], "x", 1};
    }
    e[0].name = "word/document.xml";
    size_t len;
    char *z = make_zip(e, n, &len);
    rh_kdoc d;
    rh_error err;
    ASSERT_EQ(run(rh_extract_docx, z, len, &d, &err), RH_ELIMIT);
    ASSERT(strstr(err.msg, "10000"));
    rh_kdoc_free(&d);
    rh_free(z);
    rh_free(e);
    rh_free(names);
}

TEST(ext_xml_entities)
{
    /* external entity pointing at a secret file */
    const char *dir = test_tmpdir();
    char path[512];
    snprintf(path, sizeof path, "%s/secret.txt", dir);
    FILE *f = fopen(path, "w");
    ASSERT(f);
    fputs("GEHEIMNIS-4711", f);
    fclose(f);
    char xxe[1024];
    snprintf(xxe, sizeof xxe,
             "<?xml version=\"1.0\"?><!DOCTYPE w:document [<!ENTITY xxe SYSTEM \"file://%s\">]>"
             "<w:document " W_NS "><w:body><w:p><w:r><w:t>A &xxe; B</w:t></w:r></w:p></w:body>"
             "</w:document>",
             path);
    const char lol[] =
        "<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
        "<!ENTITY l1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
        "<!ENTITY l2 \"&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;\">"
        "<!ENTITY l3 \"&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;\">"
        "<!ENTITY l4 \"&l3;&l3;&l3;&l3;&l3;&l3;&l3;&l3;&l3;&l3;\">"
        "<!ENTITY l5 \"&l4;&l4;&l4;&l4;&l4;&l4;&l4;&l4;&l4;&l4;\">"
        "<!ENTITY l6 \"&l5;&l5;&l5;&l5;&l5;&l5;&l5;&l5;&l5;&l5;\">"
        "<!ENTITY l7 \"&l6;&l6;&l6;&l6;&l6;&l6;&l6;&l6;&l6;&l6;\">"
        "<!ENTITY l8 \"&l7;&l7;&l7;&l7;&l7;&l7;&l7;&l7;&l7;&l7;\">"
        "<!ENTITY l9 \"&l8;&l8;&l8;&l8;&l8;&l8;&l8;&l8;&l8;&l8;\">]>"
        "<w:document " W_NS "><w:body><w:p><w:r><w:t>&l9;</w:t></w:r></w:p></w:body></w:document>";
    /* the internal-subset-free variant: an entity reference to an undefined entity */
    const char undef[] = "<?xml version=\"1.0\"?><w:document " W_NS "><w:body><w:p><w:r>"
                         "<w:t>Text &undefiniert; weiter</w:t></w:r></w:p></w:body></w:document>";
    const char *docs[] = {xxe, lol, undef};
    for (int i = 0; i < 3; i++) {
        size_t len;
        char *z = make_docx(docs[i], &len);
        rh_kdoc d;
        rh_error err;
        int rc = run(rh_extract_docx, z, len, &d, &err);
        if (i < 2) {
            ASSERT_EQ(rc, RH_EFORMAT);
            ASSERT(strstr(err.msg, "DTD"));
        }
        ASSERT(!any_text(&d, "GEHEIMNIS"));
        ASSERT(d.text_bytes < 10000);
        rh_kdoc_free(&d);
        rh_free(z);
        /* the same through ODT and XLSX paths */
        zent e[] = {{"content.xml", docs[i], 0}};
        z = make_zip(e, 1, &len);
        rc = run(rh_extract_odt, z, len, &d, &err);
        ASSERT(rc != RH_OK || !any_text(&d, "GEHEIMNIS"));
        rh_kdoc_free(&d);
        rh_free(z);
    }
}

/* ---- random and near-valid input for every format ---- */

static uint64_t rng = 0x9E3779B97F4A7C15ull;

static uint32_t rnd(void)
{
    rng ^= rng << 13;
    rng ^= rng >> 7;
    rng ^= rng << 17;
    return (uint32_t)(rng >> 11);
}

TEST_TIMEOUT(ext_random_bytes, 120)
{
    static const struct {
        const char *name;
        rh_extract_fn fn;
        const char *magic;
        size_t mlen;
    } fmts[] = {
        {"pdf", rh_extract_pdf, "%PDF-1.4\n", 9},
        {"docx", rh_extract_docx, "PK\3\4", 4},
        {"odt", rh_extract_odt, "PK\3\4", 4},
        {"xlsx", rh_extract_xlsx, "PK\3\4", 4},
        {"ods", rh_extract_ods, "PK\3\4", 4},
        {"csv", rh_extract_csv, "a;b\n", 4},
        {"eml", rh_extract_eml, "From: a\nContent-Type: multipart/mixed; boundary=b\n\n--b\n", 52},
        {"png", rh_extract_image, "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16},
        {"tif", rh_extract_image, "II*\0\x08\0\0\0", 8},
        {"jpg", rh_extract_image, "\xff\xd8\xff\xe0", 4},
    };
    char *buf = rh_malloc(70000);
    ASSERT(buf);
    for (size_t f = 0; f < sizeof fmts / sizeof fmts[0]; f++) {
        for (int round = 0; round < 12; round++) {
            size_t n = round < 4 ? (size_t)round * 7 : rnd() % 65536;
            for (size_t i = 0; i < n; i++)
                buf[i] = (char)rnd();
            if (round % 2 && n >= fmts[f].mlen)
                memcpy(buf, fmts[f].magic, fmts[f].mlen);
            rh_kdoc d;
            rh_error err;
            int rc = run(fmts[f].fn, buf, n, &d, &err);
            if (rc != RH_OK && !err.msg[0])
                FAIL("%s: error %d without a message", fmts[f].name, rc);
            rh_kdoc_free(&d);
        }
    }
    rh_free(buf);
}

TEST(ext_alloc_failures)
{
    /* every allocation failing in turn: an error, never a crash or leak */
    size_t dl;
    char *docx = make_docx(docx_doc, &dl);
    const char eml[] = "From: a@b\nSubject: =?utf-8?q?T=C3=BCr?=\nContent-Type: multipart/mixed; "
                       "boundary=b\n\n--b\nContent-Type: text/plain\n\nHallo\n--b\n"
                       "Content-Type: text/csv; name=a.csv\n\nx;y\n--b--\n";
    const char csv[] = "a;b;c\n1;2;3\n";
    struct {
        rh_extract_fn fn;
        const char *d;
        size_t n;
    } cases[] = {{rh_extract_docx, docx, dl},
                 {rh_extract_eml, eml, sizeof eml - 1},
                 {rh_extract_csv, csv, sizeof csv - 1}};
    for (size_t c = 0; c < 3; c++) {
        int ok = 0;
        for (long k = 0; k < 400 && !ok; k++) {
            rh_kdoc d;
            rh_error err;
            rh_kdoc_init(&d, 1 << 20, 0);
            rh_error_clear(&err);
            rh_alloc_fail_after(k);
            int rc = cases[c].fn(cases[c].d, cases[c].n, &d, &err);
            rh_alloc_fail_reset();
            ok = rc == RH_OK;
            rh_kdoc_free(&d);
        }
        ASSERT(ok);
    }
    rh_free(docx);
}

/* Every allocation failing at sampled points of a run that needs N
 * allocations, for the PDF (MuPDF's longjmp paths) and the sheet formats. */
static void fail_walk(rh_extract_fn fn, const char *data, size_t len)
{
    rh_kdoc d;
    rh_error err;
    long before = rh_alloc_count();
    ASSERT_EQ(run(fn, data, len, &d, &err), RH_OK);
    rh_kdoc_free(&d);
    long n = rh_alloc_count() - before;
    ASSERT(n > 0);
    long step = n / 250 + 1;
    size_t base = live_bytes();
    for (long k = 0; k < n + step; k += step) {
        rh_kdoc_init(&d, 1 << 20, 0);
        rh_error_clear(&err);
        rh_alloc_fail_after(k);
        int rc = fn(data, len, &d, &err);
        rh_alloc_fail_reset();
        if (rc != RH_OK && !err.msg[0])
            FAIL("failure after %ld allocations: error %d without a message", k, rc);
        rh_kdoc_free(&d);
    }
    ASSERT_NO_GROWTH(base);
}

TEST_TIMEOUT(ext_alloc_failures_pdf_sheets, 120)
{
    size_t len;
    char *pdf = make_pdf(pdf_pages, 2, 0, &len);
    fail_walk(rh_extract_pdf, pdf, len);
    rh_free(pdf);
    static const char content[] =
        "<?xml version=\"1.0\"?><office:document-content "
        "xmlns:office=\"urn:oasis:names:tc:opendocument:xmlns:office:1.0\" "
        "xmlns:text=\"urn:oasis:names:tc:opendocument:xmlns:text:1.0\" "
        "xmlns:table=\"urn:oasis:names:tc:opendocument:xmlns:table:1.0\">"
        "<office:body><office:spreadsheet><table:table table:name=\"T\"><table:table-row>"
        "<table:table-cell><text:p>a</text:p></table:table-cell><table:table-cell><text:p>b</text:p>"
        "</table:table-cell></table:table-row></table:table></office:spreadsheet></office:body>"
        "</office:document-content>";
    zent e[] = {{"content.xml", content, 0}};
    char *z = make_zip(e, 1, &len);
    fail_walk(rh_extract_ods, z, len);
    rh_free(z);
    z = make_docx(docx_doc, &len);
    fail_walk(rh_extract_docx, z, len);
    rh_free(z);
}

/* Repeating extractions (good and bad input) does not make the heap grow. */
TEST_TIMEOUT(ext_no_leaks, 120)
{
    size_t dl, ol, pl;
    char *docx = make_docx(docx_doc, &dl);
    zent oe[] = {{"content.xml", odt_content, 0}, {"meta.xml", odt_meta, 0}};
    char *odt = make_zip(oe, 2, &ol);
    char *pdf = make_pdf(pdf_pages, 2, 0, &pl);
    const char eml[] = "From: a@b\nSubject: =?iso-8859-1?q?T=FCr?=\nContent-Type: multipart/mixed; "
                       "boundary=b\n\n--b\nContent-Type: text/html; charset=utf-8\n\n<p>Hallo</p>\n--b\n"
                       "Content-Type: application/vnd.oasis.opendocument.text; name=\"x.odt\"\n"
                       "Content-Transfer-Encoding: base64\n\nUEsDBAo=\n--b\nContent-Type: text/csv; "
                       "name=a.csv\n\nx;y\n--b--\n";
    const char csv[] = "a;\"b\"\"\";c\n1;2;3\n";
    struct {
        rh_extract_fn fn;
        const char *d;
        size_t n;
    } cases[] = {{rh_extract_docx, docx, dl},       {rh_extract_docx, docx, dl / 2},
                 {rh_extract_odt, odt, ol},         {rh_extract_ods, odt, ol},
                 {rh_extract_xlsx, docx, dl},       {rh_extract_pdf, pdf, pl},
                 {rh_extract_pdf, pdf, pl / 2},     {rh_extract_eml, eml, sizeof eml - 1},
                 {rh_extract_csv, csv, sizeof csv - 1}, {rh_extract_image, pdf, pl}};
    size_t base = 0;
    for (int round = 0; round < 10; round++) {
        if (round == 2)
            base = live_bytes();
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            rh_kdoc d;
            rh_error err;
            (void)run(cases[c].fn, cases[c].d, cases[c].n, &d, &err);
            rh_kdoc_free(&d);
        }
    }
    ASSERT_NO_GROWTH(base);
    rh_free(docx);
    rh_free(odt);
    rh_free(pdf);
}

TEST(ext_registry)
{
    ASSERT(rh_extract_for_path("a/b/Satzung.DOCX")->fn == rh_extract_docx);
    ASSERT(rh_extract_for_path("x.odt")->fn == rh_extract_odt);
    ASSERT(rh_extract_for_path("x.pdf")->fn == rh_extract_pdf);
    ASSERT(rh_extract_for_path("x.eml")->fn == rh_extract_eml);
    ASSERT(rh_extract_for_path("x.xlsx")->fn == rh_extract_xlsx);
    ASSERT(rh_extract_for_path("x.ods")->fn == rh_extract_ods);
    ASSERT(rh_extract_for_path("x.csv")->fn == rh_extract_csv);
    ASSERT(rh_extract_for_path("scan.TIFF")->fn == rh_extract_image);
    ASSERT(rh_extract_for_path("foto.jpeg")->fn == rh_extract_image);
}

/* ---- fuzz seeds and kept crashers, through the fuzz harnesses ---- */

#define LLVMFuzzerTestOneInput fuzz_extract_docx_one
#include "../fuzz/fuzz_extract_docx.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_extract_eml_one
#include "../fuzz/fuzz_extract_eml.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_extract_csv_one
#include "../fuzz/fuzz_extract_csv.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_extract_pdf_one
#include "../fuzz/fuzz_extract_pdf.c"
#undef LLVMFuzzerTestOneInput
#define LLVMFuzzerTestOneInput fuzz_extract_zipxml_one
#include "../fuzz/fuzz_extract_zipxml.c"
#undef LLVMFuzzerTestOneInput

#include "fuzz_replay.h"

TEST(ext_fuzz_replay)
{
    static const struct {
        const char *name;
        int (*one)(const uint8_t *, size_t);
    } t[] = {{"extract_docx", fuzz_extract_docx_one},
             {"extract_eml", fuzz_extract_eml_one},
             {"extract_csv", fuzz_extract_csv_one},
             {"extract_pdf", fuzz_extract_pdf_one},
             {"extract_zipxml", fuzz_extract_zipxml_one}};
    int n = 0;
    for (size_t i = 0; i < sizeof t / sizeof t[0]; i++) {
        char dir[256];
        snprintf(dir, sizeof dir, "fuzz/corpus/%s", t[i].name);
        int k = fuzz_replay_dir(dir, t[i].one);
        if (k == 0)
            FAIL("no seeds in %s", dir);
        n += k;
        snprintf(dir, sizeof dir, "tests/data/%s/crashers", t[i].name);
        n += fuzz_replay_dir(dir, t[i].one);
    }
    ASSERT(n >= 11);
}
