module github.com/toolgate/toolgate/plugins/go

go 1.25.0

require github.com/extism/go-pdk v1.1.3
