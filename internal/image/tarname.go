package image

import (
	"fmt"
	"strings"
)

// entryName returns a tar entry's name as a clean path relative to the
// tree ("." for the tree itself). Absolute names and names with ".."
// components are refused: a layer describes its own tree only.
func entryName(name string) (string, error) {
	if strings.HasPrefix(name, "/") {
		return "", fmt.Errorf("absolute name refused")
	}
	var parts []string
	for p := range strings.SplitSeq(name, "/") {
		switch p {
		case "", ".":
		case "..":
			return "", fmt.Errorf("name with a .. component refused")
		default:
			parts = append(parts, p)
		}
	}
	if len(parts) == 0 {
		return ".", nil
	}
	return strings.Join(parts, "/"), nil
}
