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
            z.writestr(k, v)
    out("extract_docx", name, b.getvalue())

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
