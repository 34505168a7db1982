// Package architecture holds no code of its own: its test holds the
// packages of the module to the import rules that docs/architecture.md
// states, reading the rules from that page so that the page and the code
// cannot drift apart.
package architecture
