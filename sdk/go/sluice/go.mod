module sluice.local/sluice

go 1.24
