// SPDX-License-Identifier: MIT
//
// addon.cc - the Node-API addon under the atomicfile package: thin calls
// into libatomicfile (compiled in).  Every function takes a trailing
// boolean "async": true runs the call on the libuv thread pool and returns
// a Promise, false runs it on the calling thread (the Sync API).  The
// JavaScript surface (options, streams, update, transactions) is in
// index.js.
//
// Errors carry .code ('ENOENT', 'EAFILECORRUPT', ...), .errno (negative,
// as Node's), .syscall (the library's failing step) and .path.

#include <napi.h>

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include <functional>
#include <memory>
#include <string>
#include <vector>

extern "C" {
#include <atomicfile.h>
}

namespace {

struct Failure {
	int code = 0;
	std::string step;
	std::string path;
};

std::string
code_name(int code)
{
	std::string name = afile_err_name(code);
	// "AFILE_ECORRUPT" -> "EAFILECORRUPT", in the style of Node's codes.
	if (name.rfind("AFILE_E", 0) == 0)
		return "EAFILE" + name.substr(7);
	return name;
}

Napi::Error
make_error(Napi::Env env, const Failure &f)
{
	std::string msg = code_name(f.code) + ": " + afile_strerror(f.code);
	if (!f.step.empty())
		msg += ", " + f.step;
	if (!f.path.empty())
		msg += " '" + f.path + "'";
	Napi::Error e = Napi::Error::New(env, msg);
	e.Set("code", Napi::String::New(env, code_name(f.code)));
	e.Set("errno", Napi::Number::New(env, f.code));
	if (!f.step.empty())
		e.Set("syscall", Napi::String::New(env, f.step));
	if (!f.path.empty())
		e.Set("path", Napi::String::New(env, f.path));
	return e;
}

// One library call: run() on some thread, fills the failure; result()
// builds the JavaScript value on the main thread.
struct Call {
	std::function<int(Call &)> run;
	std::function<Napi::Value(Napi::Env, Call &)> result;
	struct afile_errinfo ei;
	struct afile_opts opts;
	Failure fail;
	std::string path;	   // for errors without errinfo
	void *buf = nullptr;	   // afile_read's result
	size_t len = 0;
	struct afile_recover_report rep;
	std::vector<Napi::Reference<Napi::Value>> keep; // buffers, handles in use
	std::vector<std::string> strings;
	std::vector<struct afile_item> items;

	Call()
	{
		memset(&ei, 0, sizeof(ei));
		memset(&opts, 0, sizeof(opts));
		opts.size = sizeof(opts);
		opts.err = &ei;
		memset(&rep, 0, sizeof(rep));
		rep.size = sizeof(rep);
	}
	~Call() { free(buf); }

	void execute()
	{
		int r = run(*this);
		if (r < 0) {
			fail.code = r;
			if (ei.step != nullptr) {
				fail.step = ei.step;
				fail.path = ei.path[0] != '\0' ? ei.path : path;
			} else {
				fail.path = path;
			}
		}
	}
};

class Worker : public Napi::AsyncWorker {
public:
	Worker(Napi::Env env, std::unique_ptr<Call> c)
	    : Napi::AsyncWorker(env), call(std::move(c)),
	      deferred(Napi::Promise::Deferred::New(env))
	{
	}
	Napi::Promise promise() { return deferred.Promise(); }

protected:
	void Execute() override { call->execute(); }
	void OnOK() override
	{
		Napi::Env env = Env();
		Napi::HandleScope scope(env);
		if (call->fail.code < 0) {
			deferred.Reject(make_error(env, call->fail).Value());
			return;
		}
		deferred.Resolve(call->result
			? call->result(env, *call)
			: env.Undefined());
	}

private:
	std::unique_ptr<Call> call;
	Napi::Promise::Deferred deferred;
};

Napi::Value
dispatch(Napi::Env env, std::unique_ptr<Call> c, bool async)
{
	if (async) {
		Worker *w = new Worker(env, std::move(c));
		Napi::Promise p = w->promise();
		w->Queue();
		return p;
	}
	c->execute();
	if (c->fail.code < 0) {
		make_error(env, c->fail).ThrowAsJavaScriptException();
		return env.Undefined();
	}
	return c->result ? c->result(env, *c) : env.Undefined();
}

bool
is_async(const Napi::CallbackInfo &info)
{
	return info[info.Length() - 1].ToBoolean().Value();
}

std::string
str(const Napi::Value &v)
{
	return v.As<Napi::String>().Utf8Value();
}

unsigned
u32(const Napi::Value &v)
{
	return v.As<Napi::Number>().Uint32Value();
}

int
i32(const Napi::Value &v)
{
	return v.As<Napi::Number>().Int32Value();
}

// Keep BUF alive for the call; returns its bytes.
std::pair<const char *, size_t>
hold(Call &c, const Napi::Value &v)
{
	Napi::Buffer<char> b = v.As<Napi::Buffer<char>>();
	c.keep.push_back(Napi::Persistent(v));
	return {b.Data(), b.Length()};
}

// write(path, buf, flags, sync, mode, waitMs, async)
Napi::Value
Write(const Napi::CallbackInfo &info)
{
	auto c = std::make_unique<Call>();
	c->path = str(info[0]);
	auto data = hold(*c, info[1]);
	unsigned flags = u32(info[2]);
	c->opts.sync = u32(info[3]);
	c->opts.mode = (mode_t)u32(info[4]);
	c->opts.lock_wait_ms = i32(info[5]);
	c->run = [data, flags](Call &k) {
		return afile_write(AT_FDCWD, k.path.c_str(), data.first,
		    data.second, flags, &k.opts);
	};
	return dispatch(info.Env(), std::move(c), is_async(info));
}

// read(path, flags, async) -> Buffer
Napi::Value
Read(const Napi::CallbackInfo &info)
{
	auto c = std::make_unique<Call>();
	c->path = str(info[0]);
	unsigned flags = u32(info[1]);
	c->run = [flags](Call &k) {
		return afile_read(
		    AT_FDCWD, k.path.c_str(), &k.buf, &k.len, flags, &k.opts);
	};
	c->result = [](Napi::Env env, Call &k) -> Napi::Value {
		return Napi::Buffer<char>::Copy(
		    env, static_cast<char *>(k.buf), k.len);
	};
	return dispatch(info.Env(), std::move(c), is_async(info));
}

// remove(path, flags, sync, waitMs, async)
Napi::Value
Remove(const Napi::CallbackInfo &info)
{
	auto c = std::make_unique<Call>();
	c->path = str(info[0]);
	unsigned flags = u32(info[1]);
	c->opts.sync = u32(info[2]);
	c->opts.lock_wait_ms = i32(info[3]);
	c->run = [flags](Call &k) {
		return afile_remove(AT_FDCWD, k.path.c_str(), flags, &k.opts);
	};
	return dispatch(info.Env(), std::move(c), is_async(info));
}

// copy(src, dst, flags, sync, mode, waitMs, async); rename(same)
Napi::Value
TwoPaths(const Napi::CallbackInfo &info, bool copy)
{
	auto c = std::make_unique<Call>();
	c->strings.push_back(str(info[0]));
	c->path = str(info[1]);
	unsigned flags = u32(info[2]);
	c->opts.sync = u32(info[3]);
	c->opts.mode = (mode_t)u32(info[4]);
	c->opts.lock_wait_ms = i32(info[5]);
	c->run = [flags, copy](Call &k) {
		if (copy)
			return afile_copy(AT_FDCWD, k.strings[0].c_str(),
			    AT_FDCWD, k.path.c_str(), flags, &k.opts);
		return afile_rename(AT_FDCWD, k.strings[0].c_str(), AT_FDCWD,
		    k.path.c_str(), flags, &k.opts);
	};
	return dispatch(info.Env(), std::move(c), is_async(info));
}

Napi::Value
Copy(const Napi::CallbackInfo &info)
{
	return TwoPaths(info, true);
}

Napi::Value
Rename(const Napi::CallbackInfo &info)
{
	return TwoPaths(info, false);
}

// patch(path, offset, buf, flags, sync, waitMs, async)
Napi::Value
Patch(const Napi::CallbackInfo &info)
{
	auto c = std::make_unique<Call>();
	c->path = str(info[0]);
	uint64_t off = (uint64_t)info[1].As<Napi::Number>().Int64Value();
	auto data = hold(*c, info[2]);
	unsigned flags = u32(info[3]);
	c->opts.sync = u32(info[4]);
	c->opts.lock_wait_ms = i32(info[5]);
	c->run = [off, data, flags](Call &k) {
		return afile_patch(AT_FDCWD, k.path.c_str(), off, data.first,
		    data.second, flags, &k.opts);
	};
	return dispatch(info.Env(), std::move(c), is_async(info));
}

// writeMany([[path, buf], ...], flags, sync, mode, async)
Napi::Value
WriteMany(const Napi::CallbackInfo &info)
{
	auto c = std::make_unique<Call>();
	Napi::Array arr = info[0].As<Napi::Array>();
	uint32_t n = arr.Length();
	unsigned flags = u32(info[1]);
	c->opts.sync = u32(info[2]);
	c->opts.mode = (mode_t)u32(info[3]);
	c->strings.reserve(n);
	for (uint32_t i = 0; i < n; i++) {
		Napi::Array pair = arr.Get(i).As<Napi::Array>();
		c->strings.push_back(str(pair.Get(0u)));
		auto data = hold(*c, pair.Get(1u));
		struct afile_item it;
		it.path = nullptr;
		it.buf = data.first;
		it.len = data.second;
		c->items.push_back(it);
	}
	for (uint32_t i = 0; i < n; i++)
		c->items[i].path = c->strings[i].c_str();
	c->run = [flags](Call &k) {
		return afile_write_many(AT_FDCWD, k.items.data(),
		    k.items.size(), flags, &k.opts);
	};
	return dispatch(info.Env(), std::move(c), is_async(info));
}

// recover(root, async) -> {action, txnId, records, tempsRemoved}
Napi::Value
Recover(const Napi::CallbackInfo &info)
{
	auto c = std::make_unique<Call>();
	c->path = str(info[0]);
	c->run = [](Call &k) {
		return afile_recover(AT_FDCWD, k.path.c_str(), 0, &k.rep);
	};
	c->result = [](Napi::Env env, Call &k) -> Napi::Value {
		static const char *actions[] = {
		    "none", "redone", "rolled-back", "corrupt"};
		Napi::Object o = Napi::Object::New(env);
		o.Set("action", k.rep.action >= 0 && k.rep.action <= 3
			? actions[k.rep.action]
			: "unknown");
		o.Set("txnId", Napi::Number::New(env, (double)k.rep.txn_id));
		o.Set("records", Napi::Number::New(env, (double)k.rep.records));
		o.Set("tempsRemoved",
		    Napi::Number::New(env, (double)k.rep.temps_removed));
		return o;
	};
	return dispatch(info.Env(), std::move(c), is_async(info));
}

// ---- handles: a writer, a lock, a transaction, behind an External -----

struct Handle {
	enum Kind { WRITER, LOCK, TXN } kind;
	struct afile_writer *w = nullptr;
	struct afile_lock *l = nullptr;
	struct afile_txn *t = nullptr;
	struct afile_errinfo ei;
	struct afile_opts opts;
	std::string path;

	explicit Handle(Kind k) : kind(k)
	{
		memset(&ei, 0, sizeof(ei));
		memset(&opts, 0, sizeof(opts));
		opts.size = sizeof(opts);
		opts.err = &ei;
	}
	void close()
	{
		afile_writer_free(w);
		w = nullptr;
		afile_lock_release(l);
		l = nullptr;
		afile_txn_free(t);
		t = nullptr;
	}
	~Handle() { close(); }
};

void
handle_finalize(Napi::Env, Handle *h)
{
	delete h;
}

Handle *
get_handle(const Napi::Value &v)
{
	return v.As<Napi::External<Handle>>().Data();
}

// A call on a handle: the handle stays alive through the External that
// the Call keeps referenced.
std::unique_ptr<Call>
handle_call(const Napi::CallbackInfo &info, Handle **ret)
{
	auto c = std::make_unique<Call>();
	c->keep.push_back(Napi::Persistent(info[0]));
	*ret = get_handle(info[0]);
	c->path = (*ret)->path;
	return c;
}

Napi::Value
wrap(Napi::Env env, Handle *h)
{
	return Napi::External<Handle>::New(env, h, handle_finalize);
}

// writerOpen(path, flags, sync, mode, async) -> handle.  The writer keeps
// opts->err until it is freed: the Handle that holds both is on the heap
// from the start and owned by the returned External.
Napi::Value
WriterOpen(const Napi::CallbackInfo &info)
{
	auto c = std::make_unique<Call>();
	Handle *h = new Handle(Handle::WRITER);
	h->path = c->path = str(info[0]);
	unsigned flags = u32(info[1]);
	h->opts.sync = u32(info[2]);
	h->opts.mode = (mode_t)u32(info[3]);
	c->run = [h, flags](Call &k) {
		int r = afile_writer_open(
		    AT_FDCWD, h->path.c_str(), flags, &h->opts, &h->w);
		if (r < 0) {
			k.ei = h->ei;
			delete h;
		}
		return r;
	};
	c->result = [h](Napi::Env env, Call &) -> Napi::Value {
		return wrap(env, h);
	};
	return dispatch(info.Env(), std::move(c), is_async(info));
}

// writerFd(h) -> fd (sync only)
Napi::Value
WriterFd(const Napi::CallbackInfo &info)
{
	Handle *h = get_handle(info[0]);
	int r = afile_writer_fd(h->w);
	if (r < 0) {
		Failure f;
		f.code = r;
		f.path = h->path;
		make_error(info.Env(), f).ThrowAsJavaScriptException();
		return info.Env().Undefined();
	}
	return Napi::Number::New(info.Env(), r);
}

// writerWrite(h, buf, async)
Napi::Value
WriterWrite(const Napi::CallbackInfo &info)
{
	Handle *h;
	auto c = handle_call(info, &h);
	auto data = hold(*c, info[1]);
	c->run = [h, data](Call &) {
		return afile_writer_write(h->w, data.first, data.second);
	};
	return dispatch(info.Env(), std::move(c), is_async(info));
}

// writerCommit(h, async): commit and free
Napi::Value
WriterCommit(const Napi::CallbackInfo &info)
{
	Handle *h;
	auto c = handle_call(info, &h);
	c->run = [h](Call &k) {
		int r = afile_writer_commit(h->w);
		if (r < 0 && h->ei.step != nullptr)
			k.ei = h->ei;
		afile_writer_free(h->w);
		h->w = nullptr;
		return r;
	};
	return dispatch(info.Env(), std::move(c), is_async(info));
}

// handleClose(h, async): discard a writer, release a lock, roll back a
// transaction
Napi::Value
HandleClose(const Napi::CallbackInfo &info)
{
	Handle *h;
	auto c = handle_call(info, &h);
	c->run = [h](Call &) {
		h->close();
		return 0;
	};
	return dispatch(info.Env(), std::move(c), is_async(info));
}

// lockAcquire(path, mode, timeoutMs, async) -> handle
Napi::Value
LockAcquire(const Napi::CallbackInfo &info)
{
	auto c = std::make_unique<Call>();
	auto h = std::make_shared<Handle>(Handle::LOCK);
	h->path = c->path = str(info[0]);
	unsigned mode = u32(info[1]);
	int timeout = i32(info[2]);
	c->run = [h, mode, timeout](Call &) {
		return afile_lock_acquire(
		    AT_FDCWD, h->path.c_str(), mode, timeout, &h->l);
	};
	c->result = [h](Napi::Env env, Call &) -> Napi::Value {
		Handle *own = new Handle(Handle::LOCK);
		own->l = h->l;
		h->l = nullptr;
		own->path = h->path;
		return wrap(env, own);
	};
	return dispatch(info.Env(), std::move(c), is_async(info));
}

// txnBegin(root, sync, waitMs, async) -> handle
Napi::Value
TxnBegin(const Napi::CallbackInfo &info)
{
	auto c = std::make_unique<Call>();
	c->path = str(info[0]);
	// The transaction keeps no pointer to its options but .err, which
	// only begin uses: a heap Handle from the start, owned by the result.
	Handle *h = new Handle(Handle::TXN);
	h->path = c->path;
	h->opts.sync = u32(info[1]);
	h->opts.lock_wait_ms = i32(info[2]);
	c->run = [h](Call &k) {
		int r = afile_txn_begin(
		    AT_FDCWD, h->path.c_str(), 0, &h->opts, &h->t);
		if (r < 0 && h->ei.step != nullptr)
			k.ei = h->ei;
		if (r < 0)
			delete h;
		return r;
	};
	c->result = [h](Napi::Env env, Call &) -> Napi::Value {
		return wrap(env, h);
	};
	return dispatch(info.Env(), std::move(c), is_async(info));
}

// txnOp(h, op, path, bufOrTo, flags, async): op 0 put, 1 create,
// 2 remove, 3 rename
Napi::Value
TxnOp(const Napi::CallbackInfo &info)
{
	Handle *h;
	auto c = handle_call(info, &h);
	int op = i32(info[1]);
	c->path = str(info[2]);
	std::pair<const char *, size_t> data{nullptr, 0};
	if (op <= 1)
		data = hold(*c, info[3]);
	else if (op == 3)
		c->strings.push_back(str(info[3]));
	unsigned flags = u32(info[4]);
	c->run = [h, op, data, flags](Call &k) {
		switch (op) {
		case 0:
			return afile_txn_put(h->t, k.path.c_str(), data.first,
			    data.second, flags);
		case 1:
			return afile_txn_create(h->t, k.path.c_str(),
			    data.first, data.second, flags);
		case 2:
			return afile_txn_remove(h->t, k.path.c_str(), flags);
		default:
			return afile_txn_rename(h->t, k.path.c_str(),
			    k.strings[0].c_str(), flags);
		}
	};
	return dispatch(info.Env(), std::move(c), is_async(info));
}

// txnCommit(h, async): commit and end
Napi::Value
TxnCommit(const Napi::CallbackInfo &info)
{
	Handle *h;
	auto c = handle_call(info, &h);
	c->run = [h](Call &) {
		int r = afile_txn_commit(h->t);
		afile_txn_free(h->t);
		h->t = nullptr;
		return r;
	};
	return dispatch(info.Env(), std::move(c), is_async(info));
}

// stats() -> the library's process-wide counters (afile_stats_get)
Napi::Value
Stats(const Napi::CallbackInfo &info)
{
	Napi::Env env = info.Env();
	struct afile_stats st;
	memset(&st, 0, sizeof(st));
	st.size = sizeof(st);
	afile_stats_get(&st);
	Napi::Object o = Napi::Object::New(env);
	o.Set("ops", Napi::Number::New(env, (double)st.ops));
	o.Set("failures", Napi::Number::New(env, (double)st.failures));
	o.Set("bytesWritten", Napi::Number::New(env, (double)st.bytes_written));
	o.Set("bytesRead", Napi::Number::New(env, (double)st.bytes_read));
	o.Set("syncs", Napi::Number::New(env, (double)st.syncs));
	o.Set("dirSyncs", Napi::Number::New(env, (double)st.dir_syncs));
	o.Set("retries", Napi::Number::New(env, (double)st.retries));
	o.Set("syncNs", Napi::Number::New(env, (double)st.sync_ns));
	return o;
}

Napi::Object
Init(Napi::Env env, Napi::Object exports)
{
	exports.Set("stats", Napi::Function::New(env, Stats));
	exports.Set("write", Napi::Function::New(env, Write));
	exports.Set("read", Napi::Function::New(env, Read));
	exports.Set("remove", Napi::Function::New(env, Remove));
	exports.Set("copy", Napi::Function::New(env, Copy));
	exports.Set("rename", Napi::Function::New(env, Rename));
	exports.Set("patch", Napi::Function::New(env, Patch));
	exports.Set("writeMany", Napi::Function::New(env, WriteMany));
	exports.Set("recover", Napi::Function::New(env, Recover));
	exports.Set("writerOpen", Napi::Function::New(env, WriterOpen));
	exports.Set("writerFd", Napi::Function::New(env, WriterFd));
	exports.Set("writerWrite", Napi::Function::New(env, WriterWrite));
	exports.Set("writerCommit", Napi::Function::New(env, WriterCommit));
	exports.Set("handleClose", Napi::Function::New(env, HandleClose));
	exports.Set("lockAcquire", Napi::Function::New(env, LockAcquire));
	exports.Set("txnBegin", Napi::Function::New(env, TxnBegin));
	exports.Set("txnOp", Napi::Function::New(env, TxnOp));
	exports.Set("txnCommit", Napi::Function::New(env, TxnCommit));
	exports.Set("version", Napi::String::New(env, afile_version()));
	Napi::Object flags = Napi::Object::New(env);
	flags.Set("NOREPLACE", AFILE_NOREPLACE);
	flags.Set("NOFOLLOW", AFILE_NOFOLLOW);
	flags.Set("BREAK_HARDLINKS", AFILE_BREAK_HARDLINKS);
	flags.Set("OWNER_BEST_EFFORT", AFILE_OWNER_BEST_EFFORT);
	flags.Set("EXCHANGE", AFILE_EXCHANGE);
	flags.Set("SET_MODE", AFILE_SET_MODE);
	flags.Set("LOCK", AFILE_LOCK);
	exports.Set("flags", flags);
	return exports;
}

} // namespace

NODE_API_MODULE(atomicfile, Init)
