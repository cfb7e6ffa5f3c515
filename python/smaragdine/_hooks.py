# Scopes named after modules, and optimizer steps, for any nn.Module program.
#
# Module names. Global forward pre/post hooks open a scope for every module
# call. The outermost module called (no module open on this thread) is a root
# and takes its class name, or the name given to smaragdine.name_module(). Any
# other module takes its name *relative to the innermost module open* around
# its call: its registered name ("query"), with the path of containers that
# have no forward of their own in front ("layer/0", "layers/0/self_attn" when
# the caller skips levels). The parent path is never stored: it is whatever
# scopes are open, so a module called from two places gets two paths, as in
# the LibTorch path (module_scope.h). A module that is not a submodule of the
# one calling it takes its class name.
#
# Optimizer steps. Every Optimizer subclass's step() runs inside the scope
# "optimizer" and the optimizer phase; after it, the session's step ends
# (unless the program marks steps itself with smaragdine.step()).
import functools
import threading
import weakref

_root_names = weakref.WeakKeyDictionary()  # module -> name given by name_module()


def name_module(module, name):
    """Names `module` when it is a root (the outermost module called)."""
    _root_names[module] = str(name)


class Hooks:
    def __init__(self, C):
        self._C = C
        self._local = threading.local()
        # parent module -> {id(descendant): its path relative to the parent}
        self._relative = weakref.WeakKeyDictionary()
        self._handles = []
        self._users = 0
        self._our_steps = set()
        self.on_optimizer_step = None  # called after each optimizer step
        self.on_first_root = None      # called once, at the first root module call
        self.optimizer_enabled = False

    # ---- modules ----

    def _stack(self):
        try:
            return self._local.stack
        except AttributeError:
            self._local.stack = []
            return self._local.stack

    def _name_under(self, parent, module):
        names = self._relative.get(parent)
        if names is None or id(module) not in names:
            names = {}
            for path, sub in parent.named_modules():
                if sub is not parent:
                    names.setdefault(id(sub), path.replace(".", "/"))
            self._relative[parent] = names
        return names.get(id(module)) or type(module).__name__

    def _pre(self, module, inputs):
        stack = self._stack()
        if stack:
            name = self._name_under(stack[-1], module)
        else:
            name = _root_names.get(module) or type(module).__name__
            if self.on_first_root is not None:
                first, self.on_first_root = self.on_first_root, None
                first()
        self._C.enter_scope(name)
        stack.append(module)

    def _post(self, module, inputs, output=None):
        stack = self._stack()
        # Close down to this module's scope: an inner module whose forward
        # raised (and was caught) never ran its post hook.
        for i in range(len(stack) - 1, -1, -1):
            if stack[i] is module:
                for _ in range(len(stack) - i):
                    self._C.leave_scope()
                del stack[i:]
                return

    # ---- optimizers ----

    def _wrap_step(self, cls):
        # Ours must be the outermost wrapper, so that torch's own
        # record_function("Optimizer.step#AdamW.step") is inside the scope
        # "optimizer" and its phase. Torch wraps a class's step when the first
        # instance is made (profile_hook_step, marked `hooked`), possibly
        # around ours: then ours wraps again, and the inner one passes through.
        step = cls.__dict__.get("step")
        if step is None or step in self._our_steps:
            return
        hooks = self

        @functools.wraps(step)  # keeps torch's `hooked` mark, so torch wraps no more
        def smaragdine_step(*args, **kwargs):
            local = hooks._local
            if not hooks.optimizer_enabled or getattr(local, "in_step", False):
                return step(*args, **kwargs)
            local.in_step = True
            hooks._C.enter_phase("optimizer")  # first: the scope's own record is optimizer too
            hooks._C.enter_scope("optimizer")
            try:
                return step(*args, **kwargs)
            finally:
                hooks._C.leave_scope()
                hooks._C.leave_phase()
                local.in_step = False
                if hooks.on_optimizer_step is not None:
                    hooks.on_optimizer_step()

        self._our_steps.add(smaragdine_step)
        cls.step = smaragdine_step

    def _patch_optimizers(self, torch):
        # Classes that exist now, and (through __init__) any defined later.
        Optimizer = torch.optim.Optimizer
        todo = [Optimizer]
        while todo:
            cls = todo.pop()
            self._wrap_step(cls)
            todo.extend(cls.__subclasses__())
        init = Optimizer.__init__
        if getattr(init, "_smaragdine_wrapped", False):
            return
        hooks = self

        @functools.wraps(init)
        def smaragdine_init(opt, *args, **kwargs):
            init(opt, *args, **kwargs)
            hooks._wrap_step(type(opt))

        smaragdine_init._smaragdine_wrapped = True
        Optimizer.__init__ = smaragdine_init

    # ---- on and off ----

    def acquire(self, torch):
        """Installs the hooks for one more user (a session)."""
        self._users += 1
        if self._users > 1:
            return
        module = torch.nn.modules.module
        self._handles.append(module.register_module_forward_pre_hook(self._pre))
        try:  # torch ≥ 2.1 runs it also when forward raises
            self._handles.append(module.register_module_forward_hook(self._post, always_call=True))
        except TypeError:
            self._handles.append(module.register_module_forward_hook(self._post))
        self._patch_optimizers(torch)
        self.optimizer_enabled = True

    def release(self):
        self._users -= 1
        if self._users > 0:
            return
        for h in self._handles:
            h.remove()
        self._handles = []
        self.optimizer_enabled = False
        stack = self._stack()
        while stack:
            stack.pop()
            self._C.leave_scope()


_hooks = None


def hooks(C):
    global _hooks
    if _hooks is None:
        _hooks = Hooks(C)
    return _hooks
