module github.com/toolgate/toolgate/sdk/go

go 1.25.0

require github.com/extism/go-pdk v1.1.3
