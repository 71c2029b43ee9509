// Timing of the reference implementation for `make bench` (bench/reference.py): verifies
// credentials with @digitalbazaar/vc + data-integrity + eddsa-rdfc-2022, the same packages and
// static document loader as interop.mjs (bundled contexts, given DID documents, no network).
// Protocol, one JSON object per line on stdin, one answer per line on stdout:
//   {"contexts": {...}, "didDocuments": {...}}         -> {"ready": true}
//   {"credentials": [...]}                              -> {"seconds": [per call], "failed": [i]}
// Each credential is verified once, in order; the time is measured here, in-process, so the
// figure has no pipe or JSON-parse overhead of the harness in it.
import {createInterface} from 'node:readline';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import * as vc from '@digitalbazaar/vc';

const MULTIKEY_CONTEXT = 'https://w3id.org/security/multikey/v1';

function makeLoader({contexts, didDocuments}) {
  return async url => {
    if(contexts[url]) {
      return {contextUrl: null, documentUrl: url, document: contexts[url]};
    }
    const [did] = url.split('#');
    const didDocument = didDocuments[did];
    if(didDocument) {
      if(url === did) {
        return {contextUrl: null, documentUrl: url, document: didDocument};
      }
      const method = didDocument.verificationMethod.find(vm => vm.id === url);
      if(method) {
        return {
          contextUrl: null, documentUrl: url,
          document: {'@context': MULTIKEY_CONTEXT, ...method}
        };
      }
    }
    throw new Error(`static document loader has no document for ${url}`);
  };
}

let documentLoader = null;
const suite = new DataIntegrityProof({cryptosuite: eddsaRdfc2022});
const lines = createInterface({input: process.stdin, crlfDelay: Infinity});
for await (const line of lines) {
  const request = JSON.parse(line);
  if(request.contexts) {
    documentLoader = makeLoader(request);
    process.stdout.write(JSON.stringify({ready: true}) + '\n');
    continue;
  }
  const seconds = [];
  const failed = [];
  for(const [index, credential] of request.credentials.entries()) {
    const started = process.hrtime.bigint();
    const result = await vc.verifyCredential({credential, suite, documentLoader});
    seconds.push(Number(process.hrtime.bigint() - started) / 1e9);
    if(!result.verified) {
      failed.push(index);
    }
  }
  process.stdout.write(JSON.stringify({seconds, failed}) + '\n');
}
