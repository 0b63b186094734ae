"""keyward's runner for Elasticsearch's YAML REST tests.

The YAML files are read in place from the shared reference folder (never copied into this
repository). A test is executed step by step against one server through one of two transports:
raw HTTP requests built from the rest-api-spec JSON files, or the official Python client.
"""
