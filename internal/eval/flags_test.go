package eval

import "flag"

var update = flag.Bool("update", false, "rewrite testdata/detect/expected.json from this run")
