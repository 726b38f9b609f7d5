// Validates an AsyncAPI document with the official parser; prints every diagnostic of severity
// error as JSON lines and exits 1 when there is any. Usage: node validate.mjs path/to/asyncapi.json
import { readFileSync } from "node:fs";
import { Parser } from "@asyncapi/parser";

const parser = new Parser();
const { diagnostics } = await parser.parse(readFileSync(process.argv[2], "utf8"));
const errors = diagnostics.filter((d) => d.severity === 0);
for (const d of errors) console.log(JSON.stringify({ code: d.code, message: d.message, path: d.path }));
console.log(`${errors.length} error(s)`);
process.exit(errors.length ? 1 : 0);
