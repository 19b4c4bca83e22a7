// Package porchlight is the root of the Porchlight module: a home
// video-security platform where the hub in the home is the only place
// plaintext exists. The root package holds no code; its tests enforce the
// architecture rules of docs/architecture.md (package docs, dependency
// boundaries). The programs live under cmd/, their code under internal/.
package porchlight
