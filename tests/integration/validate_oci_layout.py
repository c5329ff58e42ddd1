#!/usr/bin/python3
"""Validates an OCI image layout against the OCI image-spec JSON Schemas.

Usage: validate_oci_layout.py SCHEMA_DIR LAYOUT_DIR
Checks oci-layout, index.json, and every manifest and config it reaches.
Prints one line per failure and exits 1 on any; prints "valid: N documents".
An independent check: Debian's python3-jsonschema, not kiln's own code.
"""
import json
import os
import sys

import jsonschema


def strip_ids(node):
    # The schemas nest draft-04 "id"s that would re-base relative $refs; the
    # files reference each other by file name, so resolve against the folder.
    if isinstance(node, dict):
        return {k: strip_ids(v) for k, v in node.items() if not (k == "id" and isinstance(v, str))}
    if isinstance(node, list):
        return [strip_ids(v) for v in node]
    return node


def main():
    schema_dir, layout = sys.argv[1], sys.argv[2]
    store = {}
    for name in os.listdir(schema_dir):
        if name.endswith(".json"):
            with open(os.path.join(schema_dir, name)) as f:
                store["file://" + os.path.join(os.path.abspath(schema_dir), name)] = strip_ids(json.load(f))

    def validator(name):
        uri = "file://" + os.path.join(os.path.abspath(schema_dir), name)
        resolver = jsonschema.RefResolver(base_uri=uri, referrer=store[uri], store=store)
        return jsonschema.Draft4Validator(store[uri], resolver=resolver)

    failures = []
    count = 0

    def check(schema, path, doc):
        nonlocal count
        count += 1
        for err in validator(schema).iter_errors(doc):
            failures.append("%s: %s (at %s)" % (path, err.message, "/".join(map(str, err.path))))

    def load(rel):
        with open(os.path.join(layout, rel)) as f:
            return json.load(f)

    def blob(digest):
        return "blobs/" + digest.replace(":", "/")

    check("image-layout-schema.json", "oci-layout", load("oci-layout"))
    index = load("index.json")
    check("image-index-schema.json", "index.json", index)
    for desc in index.get("manifests", []):
        mt = desc.get("mediaType")
        if mt not in ("application/vnd.oci.image.manifest.v1+json",):
            continue  # Docker media types are outside the OCI schemas
        manifest = load(blob(desc["digest"]))
        check("image-manifest-schema.json", blob(desc["digest"]), manifest)
        config = load(blob(manifest["config"]["digest"]))
        check("config-schema.json", blob(manifest["config"]["digest"]), config)
    for f in failures:
        print(f)
    print("valid: %d documents" % count if not failures else "invalid")
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
