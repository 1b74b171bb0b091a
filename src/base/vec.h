/* vec: a growable array of any element type.
 *
 * A vector is any struct with the members `v` (the elements), `n` (how many are
 * used) and `cap` (how many fit): declare one with VEC(tag, type), or give a
 * struct those three members.  Start it zeroed; vec_push appends, vec_reserve
 * makes room; the elements are the owner's to free with vec_free.  The macros
 * evaluate their vector argument more than once: pass a plain lvalue.
 *
 *	VEC(names, char *) names = {0};
 *	if (vec_push(&names, s) < 0)
 *		goto oom;
 */
#ifndef FACTUURFS_VEC_H
#define FACTUURFS_VEC_H

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* A vector type of @type elements, `struct @tag` (named: an anonymous struct is a new
 * type at each use, and cppcheck loses its members). */
#define VEC(tag, type)            \
	struct tag {              \
		type *v;          \
		size_t n, cap;    \
	}

/* The capacity a vector starts with at its first growth. */
#define VEC_FIRST 16

/* Grows the array whose pointer is at @vp (a `type **`, passed as void *) to hold at
 * least @need elements of @size bytes, doubling from VEC_FIRST.  0, or -ENOMEM with
 * the array and *@cap unchanged.  The pointer is read and written with memcpy, so
 * one function serves every element type. */
static inline int vec_grow(void *vp, size_t *cap, size_t need, size_t size)
{
	size_t c = *cap ? *cap : VEC_FIRST;
	void *v, *nv;
	while (c < need) {
		if (c > SIZE_MAX / 2)
			return -ENOMEM;
		c *= 2;
	}
	if (c > SIZE_MAX / size)
		return -ENOMEM;
	memcpy(&v, vp, sizeof(v));
	nv = realloc(v, c * size);
	if (!nv)
		return -ENOMEM;
	memcpy(vp, &nv, sizeof(nv));
	*cap = c;
	return 0;
}

/* Room for @more elements after the @a->n used: 0, or -ENOMEM (@a unchanged).  The
 * element's size is taken from its type (__typeof__, which gcc and clang have):
 * sizeof of an element that is a pointer to a struct reads to clang-tidy as a
 * mistaken sizeof(struct *). */
#define vec_reserve(a, more)                                                      \
	((a)->n + (more) <= (a)->cap ? 0                                          \
				     : vec_grow(&(a)->v, &(a)->cap, (a)->n + (more), \
						sizeof(__typeof__(*(a)->v))))

/* Appends @x: 0, or -ENOMEM (@a unchanged; @x is still the caller's). */
#define vec_push(a, x) (vec_reserve((a), 1) < 0 ? -ENOMEM : ((a)->v[(a)->n++] = (x), 0))

/* Frees the array (not what its elements point to) and zeroes @a. */
#define vec_free(a) (free((a)->v), (a)->v = NULL, (a)->n = (a)->cap = 0)

#endif
