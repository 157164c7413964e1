// Builds the console into crates/server/assets/console/ (or the folder given as the first
// argument), from which the server embeds it in its binary. The output is committed, and
// CI rebuilds it into a temporary folder and compares (scripts/console.sh check), so a
// fresh `cargo build` needs no Node. The page carries a placeholder the server replaces
// with each response's style nonce (the SQL editor's styles are a <style> element). Names carry a content hash: the server can let
// browsers cache assets for good. Each text asset is also written gzipped (`.gz`,
// deterministic: no file name or time in the header), which the server sends to browsers
// that accept it.
import * as esbuild from "esbuild";
import { gzipSync } from "node:zlib";
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { basename, join, resolve } from "node:path";

const out = resolve(process.argv[2] ?? "../crates/server/assets/console");
rmSync(out, { recursive: true, force: true });
mkdirSync(join(out, "assets"), { recursive: true });

const result = await esbuild.build({
  entryPoints: ["src/main.tsx"],
  bundle: true,
  splitting: true,
  format: "esm",
  minify: true,
  target: ["chrome120", "firefox120"],
  jsx: "automatic",
  jsxImportSource: "preact",
  outdir: join(out, "assets"),
  entryNames: "[name]-[hash]",
  chunkNames: "chunk-[hash]",
  assetNames: "[name]-[hash]",
  metafile: true,
  legalComments: "none",
  logLevel: "warning",
});

const outputs = Object.entries(result.metafile.outputs);
const [entry, meta] = outputs.find(([, o]) => o.entryPoint === "src/main.tsx");
const script = basename(entry);
const style = basename(meta.cssBundle);
writeFileSync(
  join(out, "index.html"),
  `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Lakeward</title>
<meta name="lakeward-style-nonce" content="__STYLE_NONCE__">
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/assets/${style}">
<script type="module" src="/assets/${script}"></script>
</head>
<body>
<div id="app"><p class="boot">Loading Lakeward…</p></div>
<noscript>Lakeward's console needs JavaScript.</noscript>
</body>
</html>
`,
);

let total = 0;
// The page is not gzipped: the server fills in its nonce per response.
for (const file of [...readdirSync(join(out, "assets")).map((f) => join(out, "assets", f))]) {
  if (file.endsWith(".gz")) continue;
  const gz = gzipSync(readFileSync(file), { level: 9 });
  writeFileSync(`${file}.gz`, gz);
  total += gz.length;
}
console.log(`console built into ${out}: ${total} bytes gzipped in all`);
