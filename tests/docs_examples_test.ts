/**
 * The TypeScript examples of README.md, docs/*.md and mod.ts's module doc
 * work as written: every block that imports the module is type-checked, and
 * run from the repository root (where its `../shared/fixtures` paths point);
 * what each `console.log(...) // comment` prints must match its comment
 * ("0.99998..." is a prefix; the comment's words from a "(" on are prose).
 * Blocks that evaluate a whole dataset (`evaluate(`) run only with
 * VISIONEVAL_FULL=1 (minutes on lavapipe).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { fromFileUrl } from "./_path.ts";
import { FULL } from "./_helpers.ts";

const ROOT = fromFileUrl(new URL("..", import.meta.url));
const MOD = new URL("../mod.ts", import.meta.url).href;
const HAVE_REPO_FIXTURES = (() => {
  try {
    return Deno.statSync(join(ROOT, "../shared/fixtures")).isDirectory;
  } catch {
    return false;
  }
})();

interface Example {
  where: string;
  code: string;
}

/** The ```ts blocks of a markdown text (or of a JSDoc comment, its " * " prefixes removed). */
function tsBlocks(text: string, file: string): Example[] {
  const lines = text.split("\n").map((l) =>
    l.replace(/^\s*\* ?/, (m) => (m.includes("*") ? "" : m))
  );
  const out: Example[] = [];
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== "```ts") continue;
    const start = i + 1;
    while (++i < lines.length && lines[i].trim() !== "```");
    out.push({ where: `${file}:${start}`, code: lines.slice(start, i).join("\n") });
  }
  return out;
}

/** Examples that are whole programs (they import the module), with the import pointed at mod.ts. */
function examples(): Example[] {
  const files = [
    "README.md",
    ...[...Deno.readDirSync(join(ROOT, "docs"))]
      .filter((e) => e.name.endsWith(".md")).map((e) => `docs/${e.name}`).sort(),
    "mod.ts",
  ];
  const moduleDoc = (t: string) => t.slice(0, t.indexOf("*/"));
  return files.flatMap((f) => {
    const text = Deno.readTextFileSync(join(ROOT, f));
    return tsBlocks(f === "mod.ts" ? moduleDoc(text) : text, f);
  })
    .filter((e) => /from "(\.\/mod\.ts|@visioneval\/visioneval)"/.test(e.code))
    .map((e) => ({
      ...e,
      code: e.code.replace(/from "(\.\/mod\.ts|@visioneval\/visioneval)"/g, `from "${MOD}"`),
    }));
}

/** What the block's commented `console.log` lines say they print, in order. */
function expectedOutput(code: string): string[][] {
  return code.split("\n")
    .filter((l) => /^\s*console\.log\(.*\/\/ /.test(l))
    .map((l) => {
      const words = l.slice(l.indexOf("// ") + 3).trim().split(/\s+/);
      const prose = words.findIndex((w) => w.startsWith("("));
      return prose < 0 ? words : words.slice(0, prose);
    });
}

/** A printed word matches a documented one: equal, or "0.99998..." a prefix of it. */
function wordMatches(printed: string, doc: string): boolean {
  return doc.endsWith("...") ? printed.startsWith(doc.slice(0, -3)) : printed === doc;
}

async function deno(args: string[]): Promise<{ ok: boolean; out: string; err: string }> {
  const r = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const dec = new TextDecoder();
  return { ok: r.success, out: dec.decode(r.stdout), err: dec.decode(r.stderr) };
}

const EXAMPLES = examples();
const dir = Deno.makeTempDirSync({ prefix: "visioneval_docs_" });
globalThis.addEventListener("unload", () => Deno.removeSync(dir, { recursive: true }));
const paths = EXAMPLES.map((_, i) => join(dir, `example_${i}.ts`));
EXAMPLES.forEach((e, i) => Deno.writeTextFileSync(paths[i], `// ${e.where}\n${e.code}\n`));

Deno.test("docs examples: found in README.md (module API, metrics from arrays) and mod.ts", () => {
  const where = EXAMPLES.map((e) => e.where.split(":")[0]);
  assert.ok(where.filter((w) => w === "README.md").length >= 3, where.join(", "));
  assert.ok(where.includes("mod.ts"));
});

Deno.test("docs examples: every TypeScript example type-checks against mod.ts", async () => {
  const r = await deno(["check", "--config", join(ROOT, "deno.json"), ...paths]);
  assert.ok(r.ok, r.err);
});

for (const [i, e] of EXAMPLES.entries()) {
  const slow = e.code.includes("evaluate(") && !FULL;
  const noData = e.code.includes("../shared/fixtures") && !HAVE_REPO_FIXTURES;
  const why = slow
    ? "evaluates a whole dataset; VISIONEVAL_FULL=1 runs it"
    : noData
    ? "../shared/fixtures not found"
    : "";
  Deno.test({
    name: `docs example ${e.where} runs and prints what its comments say` +
      (why ? ` (skipped: ${why})` : ""),
    ignore: Boolean(why),
    fn: async () => {
      const out = join(dir, `out_${i}`);
      // Outputs the example writes (relative `out/...`) go to a temporary folder.
      const code = e.code.replace(/"out(\/[^"]*)?"/g, (_, p) => JSON.stringify(out + (p ?? "")));
      Deno.writeTextFileSync(paths[i], code);
      const r = await deno(["run", "-A", "--config", join(ROOT, "deno.json"), paths[i]]);
      assert.ok(r.ok, `${e.where}: ${r.err}`);
      const printed = r.out.split("\n").filter((l) => l.trim()).map((l) => l.trim().split(/\s+/));
      const expected = expectedOutput(e.code);
      assert.equal(printed.length, expected.length, `${e.where} printed:\n${r.out}`);
      expected.forEach((doc, k) => {
        const got = printed[k];
        assert.ok(
          got.length === doc.length && doc.every((w, j) => wordMatches(got[j], w)),
          `${e.where}: printed "${got.join(" ")}", the comment says "${doc.join(" ")}"`,
        );
      });
    },
  });
}
