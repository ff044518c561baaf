#!/usr/bin/env bash
# Install what the document tests need to check a .docx the way a person would:
#   LibreOffice Writer, headless (soffice --convert-to pdf)   libreoffice-writer-nogui
#   LibreOffice Calc, headless (opens the exported ledgers)    libreoffice-calc-nogui
#   a CJK font, so rendered pages show glyphs and not boxes   fonts-noto-cjk
#   pdftotext and pdftoppm                                    poppler-utils
# Installs with apt-get only what is missing; running it again changes nothing.
set -euo pipefail

SUDO=""
[ "$(id -u)" = 0 ] || SUDO="sudo"

installed() { dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q "install ok installed"; }

missing=()
# The -nogui Writer has no X11 dependencies; a full desktop LibreOffice serves as well.
if ! command -v soffice >/dev/null; then
  missing+=(libreoffice-writer-nogui)
fi
installed libreoffice-calc-nogui || installed libreoffice-calc || missing+=(libreoffice-calc-nogui)
installed fonts-noto-cjk || missing+=(fonts-noto-cjk)
if ! command -v pdftotext >/dev/null || ! command -v pdftoppm >/dev/null; then
  missing+=(poppler-utils)
fi

if [ "${#missing[@]}" -eq 0 ]; then
  echo "Office tools for the tests are installed (soffice, Noto CJK fonts, poppler-utils)"
  exit 0
fi

echo "Installing ${missing[*]} with apt-get…"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
  "${missing[@]}" >/dev/null

for tool in soffice pdftotext pdftoppm; do
  command -v "$tool" >/dev/null || { echo "$tool is still missing after installing" >&2; exit 1; }
done
echo "Office tools for the tests are installed (soffice, Noto CJK fonts, poppler-utils)"
