// Sign and verify with Digital Bazaar's reference Data Integrity implementation, for
// tests/interop/test_js_interop.py. Reads one JSON request from stdin:
//   {"contexts": {url: document}, "didDocuments": {did: document}, "requests": [request...]}
// where a request is
//   {"op": "issue", "cryptosuite": "eddsa-rdfc-2022" | "eddsa-jcs-2022", "credential": {...},
//    "key": {"id", "controller", "publicKeyMultibase", "secretKeyMultibase"}, "date": "..."}
//   {"op": "verify", "cryptosuite": ..., "credential": {...}}
// and writes {"results": [...]}: the signed credential, or {"verified": bool, "errors": [...]}.
// The document loader is static: it serves only the contexts and DID documents it is given, so
// both implementations canonicalize with the very same context files and never touch the network.
import * as Ed25519Multikey from '@digitalbazaar/ed25519-multikey';
import {DataIntegrityProof} from '@digitalbazaar/data-integrity';
import {cryptosuite as eddsaRdfc2022} from '@digitalbazaar/eddsa-rdfc-2022-cryptosuite';
import {
  createSignCryptosuite as jcsSign,
  createVerifyCryptosuite as jcsVerify
} from '@digitalbazaar/eddsa-jcs-2022-cryptosuite';
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

function cryptosuiteFor(name, mode) {
  if(name === 'eddsa-rdfc-2022') {
    return eddsaRdfc2022;
  }
  if(name === 'eddsa-jcs-2022') {
    return mode === 'sign' ? jcsSign() : jcsVerify();
  }
  throw new Error(`unknown cryptosuite ${name}`);
}

function describe(error) {
  if(!error) {
    return [];
  }
  const errors = error.errors || [error];
  return errors.flatMap(e => [`${e.name}: ${e.message}`, ...describe(e.cause)]);
}

async function handle(request, documentLoader) {
  if(request.op === 'issue') {
    const keyPair = await Ed25519Multikey.from({
      '@context': MULTIKEY_CONTEXT,
      type: 'Multikey',
      ...request.key
    });
    const suite = new DataIntegrityProof({
      signer: keyPair.signer(),
      date: request.date,
      cryptosuite: cryptosuiteFor(request.cryptosuite, 'sign')
    });
    return vc.issue({credential: request.credential, suite, documentLoader});
  }
  if(request.op === 'verify') {
    const suite = new DataIntegrityProof({
      cryptosuite: cryptosuiteFor(request.cryptosuite, 'verify')
    });
    const result = await vc.verifyCredential({
      credential: request.credential, suite, documentLoader
    });
    const errors = [
      ...describe(result.error),
      ...(result.results || []).flatMap(r => describe(r.error))
    ];
    return {verified: result.verified, errors: [...new Set(errors)]};
  }
  throw new Error(`unknown op ${request.op}`);
}

const chunks = [];
for await (const chunk of process.stdin) {
  chunks.push(chunk);
}
const input = JSON.parse(Buffer.concat(chunks).toString('utf8'));
const documentLoader = makeLoader(input);
const results = [];
for(const request of input.requests) {
  try {
    results.push(await handle(request, documentLoader));
  } catch(error) {
    results.push({exception: `${error.name}: ${error.message}`});
  }
}
process.stdout.write(JSON.stringify({results}));
