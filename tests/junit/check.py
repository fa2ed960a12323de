"""Validates a junit.xml written by `baton run --report`.

1. Against tests/junit/junit.xsd (the Jenkins junit-10 shape) with xmlschema.
2. With junitparser, a JUnit reader CI tools use, checking that every case
   it reads has the outcome baton meant.

Prints one JSON object: {"cases": N, "failed": [...], "skipped": [...], "passed": N}.
Exits non-zero when the file does not validate.
"""

import json
import os
import sys

import junitparser
import xmlschema


def main(path):
    here = os.path.dirname(os.path.abspath(__file__))
    schema = xmlschema.XMLSchema(os.path.join(here, "junit.xsd"))
    schema.validate(path)  # raises on any violation

    xml = junitparser.JUnitXml.fromfile(path)
    failed, skipped, passed, cases = [], [], 0, 0
    for suite in xml:
        for case in suite:
            cases += 1
            rule = case.name.split(" ")[0]
            kinds = {type(r).__name__ for r in case.result}
            if "Failure" in kinds or "Error" in kinds:
                failed.append(rule)
            elif "Skipped" in kinds:
                skipped.append(rule)
            else:
                passed += 1
    print(json.dumps({"cases": cases, "failed": failed, "skipped": skipped, "passed": passed}))


if __name__ == "__main__":
    main(sys.argv[1])
