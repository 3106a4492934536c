// Command memberlist-vectors prints golden test vectors for Cohort's memberlist-compatible wire layer,
// produced by memberlist 0.2.2, go-msgpack 0.5.5 and Go's standard library. See README.md.
package main

import (
	"flag"
	"io/ioutil"
	"path/filepath"
)

func main() {
	repo := flag.String("repo", "../..", "path to the Cohort repository root")
	capture := flag.Bool("capture", true, "also record live traffic of three memberlist nodes on 127.0.0.1")
	flag.Parse()

	write := func(rel, content string) {
		path := filepath.Join(*repo, rel)
		if err := ioutil.WriteFile(path, []byte(content), 0o644); err != nil {
			panic(err)
		}
		println("wrote", path)
	}
	write("Tests/WireTests/Fixtures/GoWireVectors.swift", wireVectors())

	var traffic []*capturedTraffic
	if *capture {
		traffic = append(traffic,
			captureRun("plainCapture", nil, false),
			captureRun("encryptedCapture", key32, true),
		)
	}
	write("Tests/GossipTests/Fixtures/GoMemberlistVectors.swift", memberlistVectors(traffic))
}
