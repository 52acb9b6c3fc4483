"""An outsider's fuzzer for the API server: strategies from the served OpenAPI, oracles, tallies."""
