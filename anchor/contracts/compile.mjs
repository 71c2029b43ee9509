// Compile PassportAnchor.sol with solc-js (standard-JSON API) into PassportAnchor.json.
//
//   node compile.mjs              write PassportAnchor.json next to this script
//   node compile.mjs --out FILE   write the artifact to FILE instead (the tests compare it)
//   node compile.mjs --check      compile and exit 1 when the committed artifact differs
//
// The compiler is the exact solc version pinned in package-lock.json (`npm ci` first). The
// artifact records the compiler version, the settings and the source's sha256, so a test can
// tell that the committed bytecode is what this source compiles to.
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import solc from "solc";

const here = dirname(fileURLToPath(import.meta.url));
const SOURCE_NAME = "PassportAnchor.sol";
const CONTRACT = "PassportAnchor";
const ARTIFACT = join(here, `${CONTRACT}.json`);

// paris: no PUSH0 and no newer opcodes, so the bytecode runs on every EVM chain (py-evm, anvil,
// mainnet, L2s). The metadata hash stays in the bytecode: it ties the bytecode to this exact source.
const SETTINGS = {
  evmVersion: "paris",
  optimizer: { enabled: true, runs: 200 },
  outputSelection: { "*": { "*": ["abi", "evm.bytecode.object", "evm.deployedBytecode.object"] } },
};

function compile() {
  const source = readFileSync(join(here, SOURCE_NAME), "utf8");
  const input = { language: "Solidity", sources: { [SOURCE_NAME]: { content: source } }, settings: SETTINGS };
  const output = JSON.parse(solc.compile(JSON.stringify(input)));
  const problems = output.errors ?? [];
  for (const p of problems) console.error(p.formattedMessage ?? p.message);
  if (problems.some((p) => p.severity === "error")) process.exit(1);
  const contract = output.contracts[SOURCE_NAME][CONTRACT];
  const artifact = {
    contractName: CONTRACT,
    sourceName: SOURCE_NAME,
    sourceSha256: createHash("sha256").update(source, "utf8").digest("hex"),
    compiler: { name: "solc-js", version: solc.version() },
    settings: { evmVersion: SETTINGS.evmVersion, optimizer: SETTINGS.optimizer },
    abi: contract.abi,
    bytecode: "0x" + contract.evm.bytecode.object,
    deployedBytecode: "0x" + contract.evm.deployedBytecode.object,
  };
  return JSON.stringify(artifact, null, 2) + "\n";
}

const args = process.argv.slice(2);
const text = compile();
if (args[0] === "--check") {
  let committed = "";
  try {
    committed = readFileSync(ARTIFACT, "utf8");
  } catch {
    // missing artifact: reported below as a difference
  }
  if (committed !== text) {
    console.error(`${CONTRACT}.json is out of date: run \`node compile.mjs\` and commit the result`);
    process.exit(1);
  }
  console.log(`${CONTRACT}.json matches ${SOURCE_NAME}`);
} else if (args[0] === "--out") {
  writeFileSync(args[1], text);
} else if (args.length === 0) {
  writeFileSync(ARTIFACT, text);
  console.log(`wrote ${ARTIFACT}`);
} else {
  console.error("usage: node compile.mjs [--check | --out FILE]");
  process.exit(2);
}
