"""Documented reasons why a reference library may disagree with the gs1 crate.

Used by make_corpus.py: `rules(case, ours, ref_name, ref)` returns the
explanation stored in the corpus, or None if the disagreement is unexplained
(which aborts corpus generation). Each rule is narrow: it checks the crate's
error code and the case, and names the GS1 / EPC TDS rule the crate follows.
"""


def stdnum_message(text):
    import stdnum.gs1_128

    try:
        stdnum.gs1_128.validate(text)
        return {"valid": True}
    except Exception as e:  # noqa: BLE001
        return {"valid": False, "error": f"{type(e).__name__}: {e}"[:200]}


def rules(case, ours, ref_name, ref):
    """Return the documented reason why `ref_name` disagrees with us, or None."""
    kind, text, cat = case["mode"], case["input"], case["category"]
    code = ours.get("code")
    if kind == "epc_tag" and ours["valid"] and ":" in text.split(":", 4)[4]:
        return "epcpy truncates or rejects an alphanumeric component containing ':', which TDS allows unescaped"
    if ours["valid"] and ref["valid"]:
        return None  # other element/hex mismatches are never excused
    if kind in ("element", "element_assoc", "raw"):
        if not ours["valid"] and ref["valid"]:
            if code in ("missing_requisite_ai", "exclusive_ai", "duplicate_ai"):
                return f"{ref_name} does not check GS1 General Specifications 4.14 AI associations ({code})"
            if code == "bad_check_digit" and "(8013)" not in text and "(8014)" not in text and ref_name == "biip":
                return "biip does not verify mod-10 check digits of GS1 keys inside element strings"
            if code == "bad_check_digit" and ("(8013)" in text or "(8014)" in text):
                return f"{ref_name} does not verify the GS1 alphanumeric check character pair (GenSpecs 7.9.5)"
            if code == "bad_date" and cat == "dd00":
                return f"{ref_name} accepts DD=00 for every date AI; GS1 allows it only for AIs 11-17 (yymmd0), not e.g. 7006/4326"
            if code == "bad_date":
                return f"{ref_name} does not validate the day against the month length"
            if code == "bad_character" and ref_name == "stdnum":
                return "python-stdnum does not restrict values to GS1 CSET 82/39/64"
            if code == "bad_value" and ref_name in ("biip", "stdnum"):
                return f"{ref_name} does not run the GS1 content check for this AI (e.g. IBAN mod 97, piece-of-total, yes/no, %-encoding)"
            if code in ("value_too_long", "value_too_short", "unknown_ai", "missing_separator") and ref_name == "stdnum":
                return "python-stdnum's AI table and length rules differ from the current GS1 AI table"
            if code == "bad_syntax" and "\\(" not in text:
                return f"{ref_name} treats an unescaped '(' inside a value as the end of the value; in bracketed form a literal '(' must be written \\("
            if code == "value_too_short" and text.endswith(")"):
                return f"{ref_name} ignores a trailing AI with an empty value; GS1 values have at least one character"
        if ours["valid"] and not ref["valid"]:
            if ref_name == "stdnum":
                els = ours["elements"]
                alone = [e for e in els if e[0] != "01"]
                gtin = next((v for a, v in els if a == "01"), None)
                if gtin and len(alone) > 1 and all(
                    stdnum_message(f"(01){gtin}({a}){v}")["valid"] for a, v in alone
                ):
                    return ("python-stdnum accepts each element alone but rejects the combination: it "
                            "re-serialises values (e.g. drops leading zeros of variable-length numeric AIs "
                            "such as (30)/(37)/(392x)) and then mis-splits the message")
                if len(els) == 1:
                    return f"python-stdnum's AI table lacks AI ({els[0][0]}) or has an older format for it"
                return None
            err = ref.get("error", "")
            if "Unknown GS1 Application Identifier" in err:
                return "biip's AI table lacks this AI, which the current GS1 General Specifications define"
            if "pattern" in err and "date" not in err:
                return "biip's regular expression for this AI is stricter than the GS1 format (e.g. linter-only fields)"
    if kind == "gtin":
        return None
    if kind.startswith("epc"):
        if not ours["valid"] and ref["valid"]:
            if code == "unsupported_scheme":
                return "epcpy also decodes GDTI/GID/GSRN/...; this crate decodes only SGTIN, SSCC, SGLN, GRAI and GIAI"
            if code == "value_out_of_range" and kind == "epc_tag":
                return "epcpy encodes integer serials with leading zeros or >= 2^bits lossily; TDS forbids both in -96 integer fields"
            if code == "bad_length" and kind == "epc_hex":
                return "epcpy ignores hex digits beyond the scheme's word-aligned length; TDS fixes the length"
            if code == "nonzero_padding":
                return "epcpy ignores bits that TDS requires to be zero (SSCC-96 reserved field, padding)"
            if code == "bad_length" and cat in ("extended", "edge"):
                return "epcpy ignores hex digits beyond the scheme's word-aligned length; TDS fixes the length"
            if code == "value_out_of_range" and kind == "epc_pure":
                return "epcpy accepts the pure identity URI but it cannot be encoded in any tag scheme"
            if code == "bad_length" and kind == "epc_pure":
                return "epcpy does not check that company prefix + reference has the GS1 key's digit count"
        if ours["valid"] and not ref["valid"]:
            err = ref.get("error", "")
            if "invalid literal for int() with base 16" in err:
                return "epcpy fails to unescape some valid %-escape sequences (e.g. two escapes in a row) in GS3A3 components"
            if "Invalid company prefix length" in err:
                return "epcpy mis-detects the company prefix length when it has leading zeros"
            if kind == "epc_hex" and cat == "lowercase":
                return "epcpy rejects lowercase hex; hex digits are case-insensitive"
            if "." in text.split(":")[-1].split(".", 3)[-1] and kind in ("epc_tag", "epc_pure"):
                return "epcpy rejects '.' inside an alphanumeric serial; TDS allows it as an unescaped GS3A3 character"
    return None


