/* testos-ostree-rollback: make the booted deployment the default again, the others keeping
 * their order, as `rpm-ostree rollback` does after greenboot fell back to the previous entry
 * (Debian's ostree 2022.7 has no `ostree admin set-default`). Built by tests/vm on the host
 * (gcc, libostree-dev) and installed in the test image as /usr/libexec/testos/ostree-rollback. */
#include <ostree.h>
#include <stdio.h>

static int fail(GError *error)
{
    fprintf(stderr, "ostree-rollback: %s\n", error->message);
    return 1;
}

int main(void)
{
    g_autoptr(GError) error = NULL;
    g_autoptr(OstreeSysroot) sysroot = ostree_sysroot_new_default();
    if (!ostree_sysroot_load(sysroot, NULL, &error) || !ostree_sysroot_lock(sysroot, &error))
        return fail(error);
    OstreeDeployment *booted = ostree_sysroot_get_booted_deployment(sysroot);
    if (!booted) {
        fprintf(stderr, "ostree-rollback: not booted into an ostree deployment\n");
        return 1;
    }
    g_autoptr(GPtrArray) old = ostree_sysroot_get_deployments(sysroot);
    if (old->len > 0 && ostree_deployment_equal(old->pdata[0], booted)) {
        printf("ostree-rollback: the booted deployment is already the default\n");
        return 0;
    }
    g_autoptr(GPtrArray) new = g_ptr_array_new_with_free_func(g_object_unref);
    g_ptr_array_add(new, g_object_ref(booted));
    for (guint i = 0; i < old->len; i++)
        if (!ostree_deployment_equal(old->pdata[i], booted))
            g_ptr_array_add(new, g_object_ref(old->pdata[i]));
    if (!ostree_sysroot_write_deployments(sysroot, new, NULL, &error))
        return fail(error);
    printf("ostree-rollback: %s.%d is the default deployment again\n",
           ostree_deployment_get_csum(booted), ostree_deployment_get_deployserial(booted));
    return 0;
}
