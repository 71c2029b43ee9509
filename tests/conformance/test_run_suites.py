"""The suite runner itself (tests/conformance/run_suites.py), end to end without any suite: a
stand-in `mocha` (a node script written here) reads the `localConfig.cjs` the runner wrote, issues
one credential through the registered endpoint over HTTPS, and reports one passing and one failing
test as mocha's JSON reporter would. The runner's service, TLS, operator, manifest and result
collection are the real ones."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
import run_suites

STAND_IN = r"""#!/usr/bin/env node
const path = require('node:path');
const fs = require('node:fs');
const output = process.argv.find(a => a.startsWith('output=')).slice('output='.length);
const config = require(path.join(process.cwd(), 'localConfig.cjs'));
const [impl] = config.implementations;
const issuer = impl.issuers.find(i => i.tags.includes('vc-api'));
const credential = {
  '@context': ['https://www.w3.org/ns/credentials/v2'],
  type: ['VerifiableCredential'],
  issuer: issuer.id,
  credentialSubject: {id: 'did:example:subject-1'}
};
(async () => {
  const report = {passes: [], failures: [], pending: []};
  const response = await fetch(issuer.endpoint, {
    method: 'POST',
    headers: {...issuer.headers, 'Content-Type': 'application/json'},
    body: JSON.stringify({credential})
  });
  const body = await response.json();
  const title = 'Issue Credential dbp MUST successfully issue a credential.';
  if(response.status === 201 && body.verifiableCredential.proof) {
    report.passes.push({fullTitle: title});
  } else {
    report.failures.push({fullTitle: title, err: {message: `status ${response.status}`}});
  }
  const err = {message: 'on purpose\nsecond line'};
  report.failures.push({fullTitle: 'Stand-in dbp always fails', err});
  report.pending.push({fullTitle: 'Stand-in dbp skipped'});
  fs.writeFileSync(output, JSON.stringify(report));
})();
"""


@pytest.fixture
def suites(tmp_path: Path) -> Path:
    if shutil.which("node") is None:
        pytest.fail("node is required (.ci/services installs it with the anchor tests' npm)")
    bin_dir = tmp_path / "suites" / "vc-api-issuer-test-suite" / "node_modules" / ".bin"
    bin_dir.mkdir(parents=True)
    mocha = bin_dir / "mocha"
    mocha.write_text(STAND_IN)
    mocha.chmod(0o755)
    return tmp_path / "suites"


def test_runner_registers_dbp_and_collects_the_results(suites, tmp_path, capsys):
    out, md = tmp_path / "results.json", tmp_path / "results.md"
    code = run_suites.main(
        ["--suites", str(suites), "--only", "vc-api-issuer-test-suite",
         "--json", str(out), "--markdown", str(md)]
    )  # fmt: skip
    printed = capsys.readouterr().out
    assert code == 1  # a failed test makes the run fail
    (result,) = json.loads(out.read_text())
    assert result["passed"] == ["Issue Credential dbp MUST successfully issue a credential."]
    assert result["failed"] == [{"test": "Stand-in dbp always fails", "message": "on purpose"}]
    assert result["pending"] == ["Stand-in dbp skipped"]
    assert printed.splitlines()[-1] == "1 passed, 1 failed"
    table = md.read_text()
    assert "| fail | Stand-in dbp always fails — on purpose |" in table
    assert "| pending | Stand-in dbp skipped |" in table
    config = (suites / "vc-api-issuer-test-suite" / "localConfig.cjs").read_text()
    assert config.startswith("// written by dbp's tests/conformance/run_suites.py")


def test_a_suite_that_is_not_installed_is_an_error(tmp_path, capsys):
    (tmp_path / "vc-data-model-2.0-test-suite").mkdir()
    code = run_suites.main(["--suites", str(tmp_path), "--only", "vc-data-model-2.0-test-suite"])
    assert code == 1
    assert "npm install" in capsys.readouterr().out
