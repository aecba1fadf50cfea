#!/bin/sh
# make_fixtures.sh - (re)writes the seed corpora of the extractor fuzz
# targets (fuzz/corpus/extract_{docx,eml,csv,pdf}/): small valid files of
# each format, made with python3's zipfile module and by hand. The unit
# tests build their own fixtures in C (tests/test_extract.c) and do not
# need this script.
set -eu
cd "$(dirname "$0")/.."
python3 - <<'PY'
import os, zipfile, io

def out(name, fname, data):
    d = os.path.join("fuzz/corpus", name)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, fname), "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode("utf-8"))

W = 'xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"'
doc = ('<?xml version="1.0" encoding="UTF-8"?><w:document ' + W + '><w:body>'
       '<w:p><w:pPr><w:pStyle w:val="Heading1"/></w:pPr><w:r><w:t>Satzung</w:t></w:r></w:p>'
       '<w:p><w:r><w:t>Die Gemeinde erhebt Gebühren.</w:t></w:r></w:p>'
       '<w:p><w:pPr><w:numPr><w:ilvl w:val="0"/><w:numId w:val="1"/></w:numPr></w:pPr>'
       '<w:r><w:t>Punkt</w:t></w:r></w:p>'
       '<w:tbl><w:tr><w:tc><w:p><w:r><w:t>A</w:t></w:r></w:p></w:tc>'
       '<w:tc><w:p><w:r><w:t>B</w:t></w:r></w:p></w:tc></w:tr></w:tbl></w:body></w:document>')
styles = ('<?xml version="1.0"?><w:styles ' + W + '><w:style w:type="paragraph" '
          'w:styleId="Heading1"><w:name w:val="heading 1"/></w:style></w:styles>')
numbering = ('<?xml version="1.0"?><w:numbering ' + W + '><w:abstractNum w:abstractNumId="0">'
             '<w:lvl w:ilvl="0"><w:numFmt w:val="decimal"/></w:lvl></w:abstractNum>'
             '<w:num w:numId="1"><w:abstractNumId w:val="0"/></w:num></w:numbering>')
for name, parts in [("basic.docx", {"word/document.xml": doc, "word/styles.xml": styles,
                                    "word/numbering.xml": numbering}),
                    ("stored.docx", {"word/document.xml": doc})]:
    b = io.BytesIO()
    comp = zipfile.ZIP_STORED if name.startswith("stored") else zipfile.ZIP_DEFLATED
    with zipfile.ZipFile(b, "w", comp) as z:
        for k, v in parts.items():
            z.writestr(zipfile.ZipInfo(k, date_time=(2025, 1, 1, 0, 0, 0)), v, compress_type=comp)
    out("extract_docx", name, b.getvalue())

def zipbytes(parts):
    b = io.BytesIO()
    with zipfile.ZipFile(b, "w", zipfile.ZIP_DEFLATED) as z:
        for k, v in parts.items():
            z.writestr(zipfile.ZipInfo(k, date_time=(2025, 1, 1, 0, 0, 0)), v,
                       compress_type=zipfile.ZIP_DEFLATED)
    return b.getvalue()

NS = ('xmlns:office="urn:oasis:names:tc:opendocument:xmlns:office:1.0" '
      'xmlns:text="urn:oasis:names:tc:opendocument:xmlns:text:1.0" '
      'xmlns:table="urn:oasis:names:tc:opendocument:xmlns:table:1.0" '
      'xmlns:style="urn:oasis:names:tc:opendocument:xmlns:style:1.0"')
odt = ('<?xml version="1.0"?><office:document-content ' + NS + '><office:automatic-styles>'
       '<text:list-style style:name="L1"><text:list-level-style-number text:level="1" '
       'style:num-format="1"/></text:list-style></office:automatic-styles><office:body><office:text>'
       '<text:h text:outline-level="1">Titel</text:h><text:p>Ein<text:s/>Absatz</text:p>'
       '<text:list text:style-name="L1"><text:list-item><text:p>Eins</text:p></text:list-item></text:list>'
       '<table:table><table:table-row><table:table-cell><text:p>A</text:p></table:table-cell>'
       '</table:table-row></table:table></office:text></office:body></office:document-content>')
out("extract_zipxml", "odt", b"\x00" + zipbytes({"content.xml": odt}))
xl = 'xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"'
out("extract_zipxml", "xlsx", b"\x01" + zipbytes({
    "xl/workbook.xml": '<?xml version="1.0"?><workbook ' + xl + ' xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>',
    "xl/_rels/workbook.xml.rels": '<?xml version="1.0"?><Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Target="worksheets/sheet1.xml" Type="x"/></Relationships>',
    "xl/sharedStrings.xml": '<?xml version="1.0"?><sst ' + xl + '><si><t>Text</t></si></sst>',
    "xl/styles.xml": '<?xml version="1.0"?><styleSheet ' + xl + '><cellXfs><xf numFmtId="0"/><xf numFmtId="14"/></cellXfs></styleSheet>',
    "xl/worksheets/sheet1.xml": '<?xml version="1.0"?><worksheet ' + xl + '><sheetData><row r="1"><c r="A1" t="s"><v>0</v></c><c r="C1" s="1"><v>45000</v></c><c r="D1" t="inlineStr"><is><t>i</t></is></c></row></sheetData></worksheet>'}))
ods = ('<?xml version="1.0"?><office:document-content ' + NS + '><office:body><office:spreadsheet>'
       '<table:table table:name="T"><table:table-row table:number-rows-repeated="2"><table:table-cell '
       'table:number-columns-repeated="3"><text:p>x</text:p></table:table-cell></table:table-row>'
       '</table:table></office:spreadsheet></office:body></office:document-content>')
out("extract_zipxml", "ods", b"\x02" + zipbytes({"content.xml": ods}))

out("extract_eml", "plain.eml",
    "From: =?UTF-8?B?SsO8cmdlbg==?= <j@example.org>\r\nSubject: =?ISO-8859-1?Q?Antrag_f=FCr?= X\r\n"
    "Date: Mon, 3 Mar 2025 10:00:00 +0100\r\nContent-Type: text/plain; charset=iso-8859-1\r\n"
    "Content-Transfer-Encoding: quoted-printable\r\n\r\nSehr geehrte Damen und Herren,\r\n\r\n"
    "ich beantrage f=FCr =\r\nmein Grundst=FCck.\r\n")
out("extract_eml", "multipart.eml",
    "From: a@example.org\nSubject: Unterlagen\nContent-Type: multipart/mixed; boundary=\"XX\"\n\n"
    "--XX\nContent-Type: multipart/alternative; boundary=YY\n\n--YY\nContent-Type: text/html\n\n"
    "<p>html</p>\n--YY\nContent-Type: text/plain; charset=windows-1252\n\nText\n--YY--\n"
    "--XX\nContent-Type: text/csv\nContent-Disposition: attachment; filename*=UTF-8''Liste%20B%C3%BCro.csv\n"
    "Content-Transfer-Encoding: base64\n\nQW10O1RlbGVmb24KQmF1YW10OzEyMwo=\n"
    "--XX\nContent-Type: message/rfc822\n\nFrom: b@example.org\nSubject: Innen\n\nInnen\n--XX--\n")

out("extract_csv", "semicolon.csv", 'Name;Straße;Betrag\r\n"Müller; Hans";"Haupt""str"" 1";12,50\r\n"a\nb";c;d\r\n')
out("extract_csv", "comma.csv", "a,b,c\n1,2,3\n")
out("extract_csv", "cp1252.csv", b"Gr\xfc\xdfe\tOrt\n\x80\tX\n")

def pdf(pages):
    objs = ["<< /Type /Catalog /Pages 2 0 R >>",
            "<< /Type /Pages /Kids [%s] /Count %d >>" % (" ".join("%d 0 R" % (5 + 2 * i) for i in range(len(pages))), len(pages)),
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
            "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>"]
    for i, c in enumerate(pages):
        objs.append("<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents %d 0 R >>" % (6 + 2 * i))
        objs.append("<< /Length %d >>\nstream\n%s\nendstream" % (len(c) + 1, c))
    s = b"%PDF-1.4\n"
    offs = []
    for i, o in enumerate(objs):
        offs.append(len(s))
        s += ("%d 0 obj\n%s\nendobj\n" % (i + 1, o)).encode("latin-1")
    x = len(s)
    s += ("xref\n0 %d\n0000000000 65535 f \n" % (len(objs) + 1)).encode()
    for o in offs:
        s += ("%010d 00000 n \n" % o).encode()
    s += ("trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objs) + 1, x)).encode()
    return s

out("extract_pdf", "text.pdf", pdf([
    "BT /F1 24 Tf 72 760 Td (Bauordnung) Tj ET\nBT /F2 11 Tf 72 700 Td (Hinweis) Tj ET\n"
    "BT /F1 11 Tf 72 660 Td (Ein Absatz mit Text der Bau-) Tj 0 -14 Td (genehmigung.) Tj ET",
    "BT /F1 11 Tf 72 700 Td (Seite zwei) Tj ET"]))
PY
echo "make_fixtures: wrote fuzz/corpus/extract_*/"
