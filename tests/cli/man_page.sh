#!/usr/bin/env bash
# The man page (deconv.1, beside the program in the build) against --help:
# every command has its section, and every option that 'deconv COMMAND
# --help' lists is in that section with the same default; the page has its
# EXAMPLES and EXIT STATUS, and groff (when installed) does not warn on it.
#   usage: bash man_page.sh /path/to/deconv /path/to/tests/data
. "$(dirname "$0")/lib/harness.sh" "$@"

PAGE=$(dirname "$DECONV")/deconv.1
[ -f "$PAGE" ] || { bad "no man page at $PAGE"; finish; exit; }
# the page as plain text: font changes and \% dropped, \- and \e as typed
sed -e 's/\\f[BIR]//g' -e 's/\\%//g' -e 's/\\-/-/g' -e 's/\\e/\\/g' -e 's/\\&//g' "$PAGE" >"$T/page"

for section in NAME SYNOPSIS DESCRIPTION COMMANDS "EXIT STATUS" EXAMPLES; do
    grep -qx "\.SH \"\{0,1\}$section\"\{0,1\}" "$T/page" && ok || bad "no section $section"
done
for code in 0 1 2 3 130; do
    awk '/^\.SH EXIT STATUS/ { on = 1; next } /^\.SH/ { on = 0 } on' "$T/page" |
        grep -qx "\.B $code" && ok || bad "EXIT STATUS lacks $code"
done

for cmd in deblur blind blur psf compare; do
    awk -v c="$cmd" '$0 == ".SS " c { on = 1; next } /^\.S[SH]/ { on = 0 } on' "$T/page" \
        >"$T/$cmd.man"
    [ -s "$T/$cmd.man" ] && ok || { bad "no section for $cmd"; continue; }
    # one line an option: its head (.TP's next line), a tab, its text joined
    awk '/^\.TP/ { if (rec != "") print rec; getline; rec = $0 "\t"; next }
         /^\./ { if (rec != "") print rec; rec = ""; next }
         rec != "" { rec = rec " " $0 }
         END { if (rec != "") print rec }' "$T/$cmd.man" >"$T/$cmd.options"
    "$DECONV" "$cmd" --help >"$T/$cmd.help" || bad "deconv $cmd --help failed"
    # option lines of the help: "  -o, --output FILE.png   help (default X)"
    grep -E '^  +(-[a-z], )?--[a-z]' "$T/$cmd.help" | while IFS= read -r line; do
        name=$(grep -oE -- '--[a-z][a-z-]*' <<<"$line" | head -n 1)
        entry=$(grep -E -- "^(-[a-z], )?$name[ 	]" "$T/$cmd.options")
        if [ -z "$entry" ]; then
            echo "FAIL: man page, $cmd: no $name"
            continue
        fi
        def=$(grep -oE '\(default [^)]*\)$' <<<"$line")
        if [ -n "$def" ] && ! grep -qF -- "$def" <<<"$entry"; then
            echo "FAIL: man page, $cmd $name: lacks '$def'"
        fi
    done >"$T/$cmd.fails"
    if [ -s "$T/$cmd.fails" ]; then
        fail=$((fail + 1))
        cat "$T/$cmd.fails"
    else
        ok
    fi
    # and the example of the command's help, in EXAMPLES
    example=$(awk '/^Example:/ { getline; sub(/^ +/, ""); print }' "$T/$cmd.help")
    awk '/^\.SH EXAMPLES/ { on = 1; next } /^\.SH/ { on = 0 } on' "$T/page" | grep -qxF -- "$example" &&
        ok || bad "EXAMPLES lacks '$example'"
done

if command -v groff >/dev/null; then
    groff -man -ww -z "$PAGE" >"$T/groff" 2>&1
    [ ! -s "$T/groff" ] && ok || bad "groff warns: $(cat "$T/groff")"
fi
finish
