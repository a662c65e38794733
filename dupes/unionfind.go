package dupes

import "slices"

// unionFind is a disjoint-set forest over indexes, with path halving and
// union by size: near-constant time per operation, 8 bytes an image.
type unionFind struct {
	parent []int32
	size   []int32
}

func (u *unionFind) init(n int) {
	u.parent = make([]int32, n)
	u.size = make([]int32, n)
	for i := range u.parent {
		u.parent[i], u.size[i] = int32(i), 1
	}
}

func (u *unionFind) find(x int32) int32 {
	for u.parent[x] != x {
		u.parent[x] = u.parent[u.parent[x]]
		x = u.parent[x]
	}
	return x
}

func (u *unionFind) union(a, b int32) {
	a, b = u.find(a), u.find(b)
	if a == b {
		return
	}
	if u.size[a] < u.size[b] {
		a, b = b, a
	}
	u.parent[b] = a
	u.size[a] += u.size[b]
}

// components lists the IDs of each set of two or more, in index order;
// id gives an index's ID.
func (u *unionFind) components(id func(int) string) [][]string {
	at := map[int32]int{}
	var out [][]string
	for i := range u.parent {
		r := u.find(int32(i))
		if u.size[r] < 2 {
			continue
		}
		c, ok := at[r]
		if !ok {
			c = len(out)
			at[r] = c
			out = append(out, nil)
		}
		out[c] = append(out[c], id(i))
	}
	return slices.Clip(out)
}
