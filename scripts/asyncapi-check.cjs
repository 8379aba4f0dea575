#!/usr/bin/env node
// Parses an AsyncAPI document with the official parser (@asyncapi/parser, pinned in
// package-lock.json) and prints one JSON object: {"diagnostics": [...], "messages": {...}}, where
// `messages` maps each channel address to the ids of its messages as the parser reads them.
// Exit status 1 when the parser reports an error (severity 0), 2 on a usage error.
//   node scripts/asyncapi-check.cjs asyncapi.json
const fs = require("fs");
const { Parser } = require("@asyncapi/parser");

async function main(file) {
  const parser = new Parser();
  const { document, diagnostics } = await parser.parse(fs.readFileSync(file, "utf8"));
  const out = {
    diagnostics: diagnostics.map((d) => ({ code: d.code, message: d.message, path: d.path, severity: d.severity })),
    messages: {},
  };
  if (document) {
    for (const channel of document.channels().all()) {
      out.messages[channel.address()] = channel.messages().all().map((m) => m.id());
    }
  }
  process.stdout.write(JSON.stringify(out));
  return document && !diagnostics.some((d) => d.severity === 0) ? 0 : 1;
}

if (process.argv.length !== 3) {
  process.stderr.write("usage: node scripts/asyncapi-check.cjs FILE\n");
  process.exit(2);
}
main(process.argv[2]).then((code) => process.exit(code), (err) => { process.stderr.write(String(err.stack || err) + "\n"); process.exit(2); });
