/**
 * A small XML well-formedness check for generated SVG (no DOM parser in Deno):
 * tags balance and nest, attributes are quoted and unique, and text holds no
 * raw "<" or unescaped "&".
 */

/** Throws an Error describing the first problem; returns the number of elements. */
export function assertWellFormedXml(xml: string): number {
  const stack: string[] = [];
  let count = 0;
  const tag = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>/y;
  const attr = /\s+([\w:.-]+)="([^"<]*)"/g;
  const entity = /&(?:amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);/y;
  let i = 0;
  while (i < xml.length) {
    const c = xml[i];
    if (c === "<") {
      tag.lastIndex = i;
      const m = tag.exec(xml);
      if (!m) throw new Error(`malformed tag at ${i}: ${xml.slice(i, i + 80)}`);
      const [whole, close, name, attrs, selfClose] = m;
      if (close) {
        const open = stack.pop();
        if (open !== name) throw new Error(`</${name}> closes <${open}> at ${i}`);
      } else {
        count++;
        const seen = new Set<string>();
        for (const a of attrs.matchAll(attr)) {
          if (seen.has(a[1])) throw new Error(`duplicate attribute ${a[1]} on <${name}> at ${i}`);
          seen.add(a[1]);
          checkEntities(a[2], i);
        }
        if (!selfClose) stack.push(name);
      }
      i += whole.length;
    } else if (c === "&") {
      entity.lastIndex = i;
      if (!entity.exec(xml)) throw new Error(`raw & at ${i}: ${xml.slice(i, i + 20)}`);
      i++;
    } else if (c === ">") {
      throw new Error(`raw > in text at ${i}`);
    } else i++;
  }
  if (stack.length) throw new Error(`unclosed: ${stack.join(" > ")}`);
  return count;

  function checkEntities(value: string, at: number) {
    for (let k = value.indexOf("&"); k >= 0; k = value.indexOf("&", k + 1)) {
      entity.lastIndex = k;
      if (!entity.exec(value)) throw new Error(`raw & in attribute at ${at}: ${value}`);
    }
  }
}
