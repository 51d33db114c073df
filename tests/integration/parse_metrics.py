#!/usr/bin/python3
"""Parses a Prometheus text exposition with the reference parser (python3-prometheus-client) and
prints every sample as JSON: {"name{label=value,...}": value}. Exits 1 if the text does not parse."""
import json
import sys

from prometheus_client.parser import text_string_to_metric_families

samples = {}
try:
    with open(sys.argv[1]) as f:
        for family in text_string_to_metric_families(f.read()):
            for s in family.samples:
                labels = ",".join(f"{k}={v}" for k, v in sorted(s.labels.items()))
                samples[f"{s.name}{{{labels}}}"] = s.value
except Exception as e:  # the parser raises ValueError and friends on malformed input
    print(f"parse error: {e}", file=sys.stderr)
    sys.exit(1)
json.dump(samples, sys.stdout)
