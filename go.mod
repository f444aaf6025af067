module github.com/nhs-genomics/results-gateway

go 1.26.8
