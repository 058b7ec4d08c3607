/**
 * A PDF of plain text lines (PDF 1.4, A4, the standard Courier and Courier-Bold fonts (monospaced: columns align), no
 * embedded resources): enough for a statement a seller downloads and prints, with nothing to
 * install. Lines are laid out top to bottom, 70 per page, at most 100 characters wide, pages numbered; a line starting with "#"
 * is set in bold. Characters outside Windows-1252's printable ASCII range are written as "?"
 * (the standard fonts carry no CJK glyphs). The cross-reference table holds each object's byte
 * offset, so readers open it without repair (test/http/statements.test.ts reads it with pdf.js).
 */
const PAGE = { width: 595, height: 842, margin: 48, lineHeight: 11, size: 8 } as const;
const PER_PAGE = Math.floor((PAGE.height - 2 * PAGE.margin) / PAGE.lineHeight) - 2;

function escapeText(s: string): string {
  let out = "";
  for (const ch of s) {
    const c = ch.codePointAt(0)!;
    if (ch === "\\" || ch === "(" || ch === ")") out += `\\${ch}`;
    else out += c >= 0x20 && c < 0x7f ? ch : "?";
  }
  return out;
}

export function textPdf(lines: readonly string[], footer: string): Buffer {
  const pages: string[][] = [];
  for (let i = 0; i < Math.max(1, lines.length); i += PER_PAGE) pages.push(lines.slice(i, i + PER_PAGE));
  // Objects: 1 catalog, 2 page tree, 3 regular font, 4 bold font, then per page: page, content.
  const objects: string[] = [];
  const pageIds = pages.map((_, i) => 5 + 2 * i);
  objects[1] = "<< /Type /Catalog /Pages 2 0 R >>";
  objects[2] = `<< /Type /Pages /Kids [${pageIds.map((id) => `${id} 0 R`).join(" ")}] /Count ${pages.length} >>`;
  objects[3] = "<< /Type /Font /Subtype /Type1 /BaseFont /Courier /Encoding /WinAnsiEncoding >>";
  objects[4] = "<< /Type /Font /Subtype /Type1 /BaseFont /Courier-Bold /Encoding /WinAnsiEncoding >>";
  pages.forEach((page, i) => {
    let y = PAGE.height - PAGE.margin;
    const ops: string[] = [];
    for (const line of page) {
      const bold = line.startsWith("#");
      ops.push(`BT /${bold ? "F2" : "F1"} ${PAGE.size} Tf ${PAGE.margin} ${y.toFixed(1)} Td (${escapeText(bold ? line.slice(1).trimStart() : line)}) Tj ET`);
      y -= PAGE.lineHeight;
    }
    ops.push(`BT /F1 7 Tf ${PAGE.margin} ${PAGE.margin / 2} Td (${escapeText(`${footer} - page ${i + 1} of ${pages.length}`)}) Tj ET`);
    const stream = ops.join("\n");
    objects[pageIds[i]!] = `<< /Type /Page /Parent 2 0 R /MediaBox [0 0 ${PAGE.width} ${PAGE.height}] /Resources << /Font << /F1 3 0 R /F2 4 0 R >> >> /Contents ${pageIds[i]! + 1} 0 R >>`;
    objects[pageIds[i]! + 1] = `<< /Length ${Buffer.byteLength(stream, "latin1")} >>\nstream\n${stream}\nendstream`;
  });
  let body = "%PDF-1.4\n%\xe2\xe3\xcf\xd3\n";
  const offsets: number[] = [];
  for (let id = 1; id < objects.length; id++) {
    offsets[id] = Buffer.byteLength(body, "latin1");
    body += `${id} 0 obj\n${objects[id]}\nendobj\n`;
  }
  const xref = Buffer.byteLength(body, "latin1");
  body += `xref\n0 ${objects.length}\n0000000000 65535 f \n`;
  for (let id = 1; id < objects.length; id++) body += `${String(offsets[id]).padStart(10, "0")} 00000 n \n`;
  body += `trailer\n<< /Size ${objects.length} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(body, "latin1");
}
