"""Turn pydantic JSON schemas into Kubernetes structural schemas (api layer).

The API server accepts only structural OpenAPI v3 schemas: no ``$ref``, no ``anyOf`` unions
with null, a type on every node. This module rewrites what pydantic generates into that form.
It is pure data transformation and must not perform I/O.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

JsonSchema = dict[str, Any]

# Keywords pydantic emits that Kubernetes' JSONSchemaProps does not have or that add noise.
_DROPPED = frozenset({"title", "examples", "$defs", "discriminator"})


def structural_schema(model: type[BaseModel]) -> JsonSchema:
    """The structural schema of ``model`` (by alias), with every reference inlined."""
    raw = model.model_json_schema(by_alias=True, mode="validation")
    definitions: dict[str, JsonSchema] = raw.get("$defs", {})
    return _convert(raw, definitions)


def _resolve(node: JsonSchema, definitions: dict[str, JsonSchema]) -> JsonSchema:
    """Inline a ``$ref`` node, keeping keywords written beside the reference."""
    ref = node["$ref"]
    target = definitions[ref.rsplit("/", 1)[-1]]
    beside = {key: value for key, value in node.items() if key != "$ref"}
    return _merge(dict(target), beside)


def _merge(base: JsonSchema, extra: JsonSchema) -> JsonSchema:
    merged = {**base, **extra}
    rules = base.get("x-kubernetes-validations", []) + extra.get("x-kubernetes-validations", [])
    if rules:
        merged["x-kubernetes-validations"] = rules
    return merged


def _convert(node: JsonSchema, definitions: dict[str, JsonSchema]) -> JsonSchema:
    if "$ref" in node:
        node = _resolve(node, definitions)
    if "allOf" in node and len(node["allOf"]) == 1:
        inner = node["allOf"][0]
        node = _merge(inner, {k: v for k, v in node.items() if k != "allOf"})
        if "$ref" in node:
            node = _resolve(node, definitions)
    if "anyOf" in node:
        node = _collapse_union(node, definitions)
    if node.get("x-kubernetes-preserve-unknown-fields"):
        kept: JsonSchema = {
            key: node[key]
            for key in ("description", "x-kubernetes-validations", "nullable")
            if key in node
        }
        return {"type": "object", "x-kubernetes-preserve-unknown-fields": True, **kept}

    out: JsonSchema = {}
    for key, value in node.items():
        if key in _DROPPED:
            continue
        if key == "properties":
            out[key] = {name: _convert(sub, definitions) for name, sub in value.items()}
        elif key == "additionalProperties" and value is False:
            # Kubernetes prunes unknown fields (and kubectl's strict field validation reports
            # them); a literal ``false`` here is not a valid structural schema.
            continue
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = _convert(value, definitions)
        elif key == "const":
            out["enum"] = [value]
        elif key in ("exclusiveMinimum", "exclusiveMaximum") and not isinstance(value, bool):
            # JSON Schema 2020 numbers; Kubernetes' OpenAPI v3 wants a bound plus a flag.
            out["minimum" if key == "exclusiveMinimum" else "maximum"] = value
            out[key] = True
        else:
            out[key] = value
    if "properties" in out:
        out.setdefault("type", "object")
    if "enum" in out and "type" not in out:
        out["type"] = "string"
    return out


def _collapse_union(node: JsonSchema, definitions: dict[str, JsonSchema]) -> JsonSchema:
    """``X | None`` becomes X with ``nullable``; ``int | str`` becomes int-or-string."""
    options = [
        _resolve(option, definitions) if "$ref" in option else option for option in node["anyOf"]
    ]
    non_null = [option for option in options if option.get("type") != "null"]
    rest = {key: value for key, value in node.items() if key != "anyOf"}
    if rest.get("default", ...) is None:
        del rest["default"]
    nullable = len(non_null) < len(options)
    if len(non_null) == 1:
        merged = _merge(non_null[0], rest)
    elif {option.get("type") for option in non_null} == {"integer", "string"}:
        merged = _merge({"x-kubernetes-int-or-string": True}, rest)
    else:
        raise ValueError(f"union cannot be expressed as a structural schema: {node}")
    if nullable:
        merged["nullable"] = True
    return merged
