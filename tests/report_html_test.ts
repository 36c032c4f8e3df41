/**
 * The HTML report: self-contained, escaped, every inline SVG well-formed,
 * edge cases render; and in a real browser (headless Debian Chromium) the
 * page paints (screenshot not blank), logs no JS errors, and its tables sort
 * and filter. The browser test is skipped when `chromium` is not on PATH
 * (install: `apt-get install -y chromium`).
 */
import assert from "node:assert/strict";
import { Image } from "imagescript";
import { renderHtmlReport, writeHtmlReport } from "../src/report/html.ts";
import type { MetricsLike, ReportInput } from "../src/report/types.ts";
import { sampleReport } from "./_report_sample.ts";
import { assertWellFormedXml } from "./_xml_check.ts";

/** Absolute path of `chromium` on PATH, or undefined. */
function findChromium(): string | undefined {
  for (const dir of (Deno.env.get("PATH") ?? "").split(":")) {
    try {
      const p = `${dir}/chromium`;
      if (Deno.statSync(p).isFile) return p;
    } catch { /* not here */ }
  }
  return undefined;
}
const CHROMIUM = findChromium();

function inlineSvgs(html: string): string[] {
  return [...html.matchAll(/<svg[\s\S]*?<\/svg>/g)].map((m) => m[0]);
}

function assertSelfContained(html: string) {
  assert.doesNotMatch(html, /\s(src|href)="(https?:)?\/\//i, "external resource");
  assert.doesNotMatch(html, /<link\b/i);
  assert.doesNotMatch(html, /@import|url\(\s*['"]?https?:/i);
  assert.equal((html.match(/<script\b/g) ?? []).length, 1, "exactly one (inline) script");
}

Deno.test("html report: self-contained, escaped, all sections, well-formed SVG", () => {
  const input = sampleReport({ numClasses: 10, numSamples: 400 });
  const html = renderHtmlReport(input);
  assertSelfContained(html);
  for (
    const id of [
      "summary",
      "calibration",
      "calibration-methods",
      "confusion",
      "per-class",
      "curves",
      "mistakes",
      "explanations",
      "embedding",
      "failed",
      "metadata",
    ]
  ) {
    assert.ok(html.includes(`<section class="card" id="${id}">`), `section ${id}`);
  }
  // The failed path "<script>alert(1)</script>.png" appears escaped only.
  assert.ok(!html.includes("<script>alert(1)"));
  assert.ok(html.includes("&lt;script&gt;alert(1)&lt;/script&gt;.png"));
  const svgs = inlineSvgs(html);
  assert.ok(svgs.length >= 8, `${svgs.length} plots`);
  for (const svg of svgs) assertWellFormedXml(svg);
  // 12 mistake thumbnails + 4 × 2 explanation images, all PNG data URIs.
  assert.equal((html.match(/src="data:image\/png;base64,/g) ?? []).length, 12 + 8);
  // Numbers from the metrics object appear as fractions.
  assert.ok(html.includes(`>${input.metrics.top1!.toFixed(4)}<`));
  // Run metadata: unknown metric fields and meta are listed.
  assert.match(html, /settings\.calibration_bins/);
  assert.match(html, /95% CI 0\.\d{3}–0\.\d{3}/);
  assert.match(html, /model\.architecture/);
  assert.match(html, /<span>GPU llvmpipe \(Mesa lavapipe\)<\/span>/);
});

Deno.test("html report: class names with markup characters are escaped everywhere", () => {
  const input = sampleReport({ numClasses: 10, numSamples: 300 });
  const nasty = input.classNames!.map((n, k) => `<b>${n}</b> & "${k}'s"`);
  const html = renderHtmlReport({ ...input, classNames: nasty });
  for (const n of input.classNames!) assert.ok(!html.includes(`<b>${n}`), `raw <b> around ${n}`);
  assert.ok(html.includes("&lt;b&gt;airplane&lt;/b&gt; &amp; &quot;0&#39;s&quot;"));
  for (const svg of inlineSvgs(html)) assertWellFormedXml(svg);
});

Deno.test("html report: minimal and degenerate inputs render (n/a, 1 class, 1000 classes)", async () => {
  const minimal = renderHtmlReport({ metrics: {} });
  const withRun = renderHtmlReport({
    metrics: { run: { model: "m/x", images_per_second: 12.345 } } as MetricsLike,
  });
  assert.match(withRun, /<span>model m\/x<\/span>.*<span>12\.3 images\/s<\/span>/);
  assertSelfContained(minimal);
  assert.ok((minimal.match(/n\/a/g) ?? []).length >= 10);
  const nan = renderHtmlReport({
    metrics: { top1: NaN, auroc: { macro: null, per_class: [null] }, confusion_matrix: null },
  });
  assert.doesNotMatch(nan, />NaN</);
  const one: ReportInput = {
    metrics: {
      num_samples: 3,
      num_classes: 1,
      top1: 1,
      confusion_matrix: [[3]],
      reliability: [{ lo: 0, hi: 1, count: 3, confidence: 1, accuracy: 1 }],
      precision: { per_class: [1] },
    },
  };
  const html1 = renderHtmlReport(one);
  for (const svg of inlineSvgs(html1)) assertWellFormedXml(svg);
  const big = renderHtmlReport(sampleReport({ numClasses: 1000, numSamples: 3000, images: false }));
  assertSelfContained(big);
  assert.match(big, /Most confused classes/);
  assert.match(
    big,
    /alt="confusion matrix overview" style="width:1000px" src="data:image\/png;base64,/,
  );
  for (const svg of inlineSvgs(big)) assertWellFormedXml(svg);
  assert.ok(big.length < 8e6, `1000-class page is ${big.length} bytes`);
  const dir = await Deno.makeTempDir({ prefix: "report_html_" });
  try {
    await writeHtmlReport(`${dir}/x/report.html`, one);
    assert.equal(await Deno.readTextFile(`${dir}/x/report.html`), html1);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Runs headless Chromium on a file; returns stdout and stderr. */
async function chromium(args: string[], profile: string): Promise<{ out: string; err: string }> {
  const cmd = new Deno.Command("timeout", {
    args: [
      "90",
      CHROMIUM!,
      "--headless",
      "--no-sandbox",
      "--disable-gpu",
      "--disable-background-networking",
      "--disable-component-update",
      "--disable-sync",
      "--no-first-run",
      "--hide-scrollbars",
      `--user-data-dir=${profile}`,
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  });
  const r = await cmd.output();
  const out = new TextDecoder().decode(r.stdout), err = new TextDecoder().decode(r.stderr);
  assert.equal(r.code, 0, `chromium exited ${r.code}:\n${err.slice(-2000)}`);
  return { out, err };
}

/** Page messages Chromium logs for uncaught errors and console errors. */
function jsErrors(stderr: string): string[] {
  return stderr.split("\n").filter((l) => /:CONSOLE[:(]/.test(l) && /Uncaught|Error|error/.test(l));
}

/** Screenshot statistics: share of non-white pixels, of pixels unlike the most common color, distinct colors. */
async function screenshotStats(png: Uint8Array) {
  const img = await Image.decode(png);
  const px = img.bitmap, n = img.width * img.height;
  const freq = new Map<number, number>();
  let nonWhite = 0, darkTop = 0;
  for (let i = 0; i < n; i++) {
    const r = px[i * 4], g = px[i * 4 + 1], b = px[i * 4 + 2];
    const key = (r << 16) | (g << 8) | b;
    freq.set(key, (freq.get(key) ?? 0) + 1);
    if (r < 250 || g < 250 || b < 250) nonWhite++;
    if (i < img.width * 60 && r < 40 && g < 50 && b < 60) darkTop++;
  }
  const dominant = Math.max(...freq.values());
  return {
    width: img.width,
    height: img.height,
    nonWhite: nonWhite / n,
    nonDominant: 1 - dominant / n,
    distinctColors: freq.size,
    darkHeader: darkTop / (img.width * 60),
  };
}

/** Appended to a copy of the page: records errors, sorts and filters the per-class table. */
const PROBE = `<script>
(function () {
  var out = { errors: (window.__errors || []).slice() };
  try {
    var table = document.getElementById("perclass-table");
    var heads = table.tHead.rows[0].cells, f1 = -1, support = -1;
    for (var i = 0; i < heads.length; i++) {
      if (heads[i].textContent.trim() === "F1") f1 = i;
      if (heads[i].textContent.trim() === "Support") support = i;
    }
    var col = function (c) {
      return Array.prototype.map.call(table.tBodies[0].rows, function (r) {
        return parseFloat(r.cells[c].getAttribute("data-v"));
      });
    };
    heads[f1].click();
    out.f1Asc = col(f1);
    heads[f1].click();
    out.f1Desc = col(f1);
    heads[support].click();
    out.supportAsc = col(support);
    out.ariaSort = heads[support].getAttribute("aria-sort");
    var input = document.querySelector("input.filter");
    if (input) {
      input.value = "dog";
      input.dispatchEvent(new Event("input"));
      out.visibleAfterFilter = Array.prototype.filter.call(table.tBodies[0].rows, function (r) {
        return r.style.display !== "none";
      }).length;
    }
  } catch (e) { out.errors.push(String(e)); }
  var pre = document.createElement("pre");
  pre.id = "probe-result";
  pre.textContent = JSON.stringify(out);
  document.body.appendChild(pre);
})();
</script>`;

const ERROR_HOOK =
  `<script>window.__errors=[];window.addEventListener("error",function(e){window.__errors.push(e.message)});</script>`;

Deno.test({
  name: CHROMIUM
    ? "html report in headless Chromium: paints, no JS errors, tables sort and filter"
    : "html report in headless Chromium (skipped: `chromium` not on PATH; apt-get install -y chromium)",
  ignore: !CHROMIUM,
  async fn() {
    const dir = await Deno.makeTempDir({ prefix: "report_browser_" });
    try {
      // The error detector works: a page with a deliberate error is caught.
      await Deno.writeTextFile(
        `${dir}/bad.html`,
        "<html><body><script>notDefined();</script></body></html>",
      );
      const bad = await chromium([
        "--enable-logging=stderr",
        "--v=0",
        "--dump-dom",
        `file://${dir}/bad.html`,
      ], `${dir}/p0`);
      assert.equal(
        jsErrors(bad.err).length,
        1,
        `detector missed the error:\n${bad.err.slice(-1500)}`,
      );

      const cases: [string, ReportInput][] = [
        ["c10", sampleReport({ numClasses: 10, numSamples: 600 })],
        ["c1000", sampleReport({ numClasses: 1000, numSamples: 3000, images: false })],
      ];
      for (const [name, input] of cases) {
        const page = `${dir}/${name}.html`;
        await writeHtmlReport(page, input);
        const shot = `${dir}/${name}.png`;
        const run = await chromium([
          "--enable-logging=stderr",
          "--v=0",
          `--screenshot=${shot}`,
          "--window-size=1280,2000",
          `file://${page}`,
        ], `${dir}/p-${name}`);
        assert.deepEqual(jsErrors(run.err), [], `${name}: JS errors`);
        const stats = await screenshotStats(await Deno.readFile(shot));
        console.log(`${name} screenshot: ${JSON.stringify(stats)}`);
        assert.equal(stats.width, 1280);
        assert.equal(stats.height, 2000);
        assert.ok(stats.nonWhite > 0.1, `${name}: only ${stats.nonWhite} non-white`);
        assert.ok(stats.nonDominant > 0.15, `${name}: page is ${1 - stats.nonDominant} one color`);
        assert.ok(stats.distinctColors > 500, `${name}: ${stats.distinctColors} colors`);
        assert.ok(stats.darkHeader > 0.8, `${name}: header not painted (${stats.darkHeader})`);

        // Interaction: sort by F1 both ways and by support, then filter.
        const html = (await Deno.readTextFile(page))
          .replace("<head>", `<head>${ERROR_HOOK}`)
          .replace("</body>", `${PROBE}</body>`);
        await Deno.writeTextFile(`${dir}/${name}_probe.html`, html);
        const dom = await chromium(
          ["--dump-dom", `file://${dir}/${name}_probe.html`],
          `${dir}/q-${name}`,
        );
        const m = dom.out.match(/<pre id="probe-result">([^<]*)<\/pre>/);
        assert.ok(m, `${name}: probe result missing`);
        const res = JSON.parse(m[1].replaceAll("&quot;", '"').replaceAll("&amp;", "&"));
        assert.deepEqual(res.errors, [], `${name}: page errors`);
        const asc = (a: number[]) => a.every((v, i) => i === 0 || a[i - 1] <= v);
        assert.ok(asc(res.f1Asc), `${name}: F1 ascending`);
        assert.ok(asc([...res.f1Desc].reverse()), `${name}: F1 descending`);
        assert.ok(asc(res.supportAsc), `${name}: support ascending`);
        assert.equal(res.f1Asc.length, input.metrics.num_classes);
        assert.equal(res.ariaSort, "ascending");
        const expectVisible = (input.classNames ?? []).filter((s) =>
          s.toLowerCase().includes("dog")
        ).length;
        assert.equal(res.visibleAfterFilter ?? expectVisible, expectVisible);
      }
    } finally {
      await Deno.remove(dir, { recursive: true });
    }
  },
});
