#!/bin/sh
# Compiles src/ and packages target/http.jar with the JDK's javac and jar (no Maven, no Gradle).
# JDK: $JAVA_HOME if set, else the one `javac` on PATH belongs to, else Debian's OpenJDK 17.
set -eu
cd "$(dirname "$0")"
if [ -n "${JAVA_HOME:-}" ]; then
    bin="$JAVA_HOME/bin"
elif command -v javac >/dev/null 2>&1; then
    bin="$(dirname "$(readlink -f "$(command -v javac)")")"
else
    bin=/usr/lib/jvm/java-17-openjdk-amd64/bin
fi
rm -rf target/classes
mkdir -p target/classes
"$bin/javac" --release 17 -d target/classes $(find src -name '*.java' | sort)
"$bin/jar" --create --file target/http.jar --main-class http.Main --date=1980-01-01T00:00:02Z \
    -C target/classes .
echo "built target/http.jar"
