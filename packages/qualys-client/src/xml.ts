import { Parser } from 'htmlparser2';

/**
 * A tiny DOM for the small XML answers of the API (lists, envelopes, about), built by htmlparser2 in xmlMode.
 * Report files are never parsed here: they stream elsewhere.
 */
export interface XmlElement {
  name: string;
  attrs: Record<string, string>;
  children: XmlElement[];
  text: string;
}

export function parseXml(source: string): XmlElement | undefined {
  const top: XmlElement = { name: '#document', attrs: {}, children: [], text: '' };
  const stack: XmlElement[] = [top];
  const parser = new Parser(
    {
      onopentag(name, attrs) {
        const el: XmlElement = { name, attrs, children: [], text: '' };
        stack[stack.length - 1]?.children.push(el);
        stack.push(el);
      },
      ontext(data) {
        const cur = stack[stack.length - 1];
        if (cur) cur.text += data;
      },
      oncdatastart() {},
      onclosetag() {
        if (stack.length > 1) stack.pop();
      },
    },
    { xmlMode: true, decodeEntities: true, recognizeCDATA: true },
  );
  parser.write(source);
  parser.end();
  return top.children[0];
}

export function child(el: XmlElement | undefined, name: string): XmlElement | undefined {
  return el?.children.find((c) => c.name === name);
}

export function children(el: XmlElement | undefined, name: string): XmlElement[] {
  return el ? el.children.filter((c) => c.name === name) : [];
}

/** Text of a descendant reached by a path of element names, trimmed; undefined when absent or empty. */
export function textAt(el: XmlElement | undefined, ...path: string[]): string | undefined {
  let cur = el;
  for (const p of path) cur = child(cur, p);
  const t = cur?.text.trim();
  return t ? t : undefined;
}
