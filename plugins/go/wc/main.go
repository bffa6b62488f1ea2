// Command wc is a WASI command used by Toolgate's runtime tests and as an example: it reads stdin and prints
// {"lines":L,"words":W,"bytes":B}. Input that is not valid UTF-8 exits 2 with a message on stderr.
// Build it with `GOOS=wasip1 GOARCH=wasm go build` (see plugins/build.sh).
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"unicode/utf8"
)

type counts struct {
	Lines int `json:"lines"`
	Words int `json:"words"`
	Bytes int `json:"bytes"`
}

func main() {
	in, err := io.ReadAll(os.Stdin)
	if err != nil {
		fmt.Fprintln(os.Stderr, "wc: read stdin:", err)
		os.Exit(1)
	}
	if !utf8.Valid(in) {
		fmt.Fprintln(os.Stderr, "wc: input is not valid UTF-8")
		os.Exit(2)
	}
	out, _ := json.Marshal(counts{Lines: bytes.Count(in, []byte("\n")), Words: len(bytes.Fields(in)), Bytes: len(in)})
	os.Stdout.Write(append(out, '\n'))
}
