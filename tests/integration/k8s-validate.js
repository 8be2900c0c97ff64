// Validate Kubernetes objects against the API schema with the npm package
// kubernetes-models (used by tests/integration/ci-manifests.t).
//
//   node k8s-validate.js MODULES_DIR < docs.json
//
// docs.json: a JSON array of {"file": NAME, "index": N, "doc": OBJECT}.
// For each object one line: FILE<TAB>INDEX<TAB>KIND<TAB>RESULT, where
// RESULT is "ok" or what is wrong.
//
// kubernetes-models checks types, enums and required fields but lets
// unknown fields through, so a misspelt field (backoffLimitPerIndx) would
// pass.  The schema's validator reads every field it knows by name, so the
// object is handed to it behind a Proxy that records the names read: a
// field the validator never asked for is unknown to the schema.  Objects
// whose keys the validator enumerates (maps such as labels or resource
// requests) are free-form and not checked that way.
'use strict';
const fs = require('fs');
const path = require('path');

const modules = process.argv[2];
if (!modules) {
	console.error('usage: node k8s-validate.js MODULES_DIR < docs.json');
	process.exit(2);
}

function modelFor(apiVersion, kind) {
	if (typeof apiVersion !== 'string' || typeof kind !== 'string' || !/^[A-Za-z0-9.\/-]+$/.test(apiVersion) ||
	    !/^[A-Za-z0-9]+$/.test(kind))
		return null;
	const file = path.join(modules, 'kubernetes-models', apiVersion, kind + '.js');
	if (!fs.existsSync(file))
		return null;
	const m = require(file);
	return m[kind] || null;
}

// watch(OBJ): a Proxy over OBJ and everything below it; records, per
// object, the keys read and whether its keys were enumerated.
function watcher() {
	const seen = new Map();   // object -> {path, read: Set, enumerated}
	function wrap(obj, p) {
		if (obj === null || typeof obj !== 'object')
			return obj;
		let rec = seen.get(obj);
		if (!rec) {
			rec = { path: p, read: new Set(), enumerated: false, proxy: null };
			seen.set(obj, rec);
			rec.proxy = new Proxy(obj, {
				get(t, k, r) {
					const v = Reflect.get(t, k, r);
					if (typeof k !== 'string')
						return v;
					rec.read.add(k);
					return Object.prototype.hasOwnProperty.call(t, k) ? wrap(v, rec.path + '/' + k) : v;
				},
				has(t, k) {
					if (typeof k === 'string')
						rec.read.add(k);
					return Reflect.has(t, k);
				},
				ownKeys(t) {
					rec.enumerated = true;
					return Reflect.ownKeys(t);
				},
			});
		}
		return rec.proxy;
	}
	function unknown() {
		const out = [];
		for (const [obj, rec] of seen) {
			if (Array.isArray(obj) || rec.enumerated)
				continue;
			for (const k of Object.keys(obj))
				if (!rec.read.has(k))
					out.push((rec.path || '') + '/' + k);
		}
		return out;
	}
	return { wrap, unknown };
}

const docs = JSON.parse(fs.readFileSync(0, 'utf8'));
let bad = 0;
for (const { file, index, doc } of docs) {
	let kind = doc && doc.kind ? String(doc.kind) : '?';
	let result;
	const Model = doc && typeof doc === 'object' ? modelFor(doc.apiVersion, doc.kind) : null;
	if (!Model) {
		result = `no schema for apiVersion ${JSON.stringify(doc && doc.apiVersion)} kind ${JSON.stringify(doc && doc.kind)}`;
	} else {
		try {
			new Model(doc).validate();
			const w = watcher();
			Model.prototype.validate.call(w.wrap(doc, ''));
			const u = w.unknown();
			result = u.length ? 'unknown field(s): ' + u.join(', ') : 'ok';
		} catch (e) {
			result = String(e.message || e).replace(/\s+/g, ' ');
		}
	}
	if (result !== 'ok')
		bad++;
	console.log([file, index, kind, result].join('\t'));
}
process.exit(bad ? 1 : 0);
