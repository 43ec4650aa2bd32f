/**
 * A PDF (Helvetica, no compression) with one page per entry of `pages`, each showing its text
 * `repeat` times: many pages, or heavy ones, make extraction as slow as a test needs.
 */
export function makePdf(pages: string | string[], repeat = 1): Buffer {
  const list = typeof pages === 'string' ? [pages] : pages;
  const objects = ['<< /Type /Catalog /Pages 2 0 R >>', '', '<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>'];
  const kids: string[] = [];
  for (const text of list) {
    let stream = '';
    for (let j = 0; j < repeat; j++) stream += `BT /F1 12 Tf 72 ${700 - (j % 50) * 12} Td (${text}) Tj ET\n`;
    const pageId = objects.length + 1;
    kids.push(`${pageId} 0 R`);
    objects.push(`<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents ${pageId + 1} 0 R /Resources << /Font << /F1 3 0 R >> >> >>`);
    objects.push(`<< /Length ${stream.length} >>\nstream\n${stream}\nendstream`);
  }
  objects[1] = `<< /Type /Pages /Kids [${kids.join(' ')}] /Count ${list.length} >>`;
  let out = '%PDF-1.4\n';
  const offsets: number[] = [];
  objects.forEach((o, i) => {
    offsets.push(out.length);
    out += `${i + 1} 0 obj\n${o}\nendobj\n`;
  });
  const xref = out.length;
  out += `xref\n0 ${objects.length + 1}\n0000000000 65535 f \n${offsets.map((o) => `${String(o).padStart(10, '0')} 00000 n \n`).join('')}`;
  out += `trailer\n<< /Size ${objects.length + 1} /Root 1 0 R >>\nstartxref\n${xref}\n%%EOF\n`;
  return Buffer.from(out, 'latin1');
}

/** `count` pages showing "page 1 marker", "page 2 marker"... */
export const markedPages = (count: number) => Array.from({ length: count }, (_, i) => `page ${i + 1} marker`);
