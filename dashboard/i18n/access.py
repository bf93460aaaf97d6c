"""Text of sign-in, roles and refused actions."""

TEXT = {
    "auth.title": {"en": "Sign in to Reelytics", "zh": "登录 Reelytics"},
    "auth.sso": {"en": "Sign in with single sign-on", "zh": "使用单点登录"},
    "auth.sso_named": {"en": "Sign in with {provider}", "zh": "使用 {provider} 登录"},
    "auth.name": {"en": "User name", "zh": "用户名"},
    "auth.password": {"en": "Password", "zh": "密码"},
    "auth.sign_in": {"en": "Sign in", "zh": "登录"},
    "auth.sign_out": {"en": "Sign out", "zh": "退出登录"},
    "auth.bad_credentials": {"en": "Wrong user name or password.", "zh": "用户名或密码错误。"},
    "auth.too_many": {
        "en": "Too many failed sign-ins for this name. Try again in {minutes} minutes.",
        "zh": "该用户名登录失败次数过多，请 {minutes} 分钟后再试。",
    },
    "auth.not_allowed": {
        "en": "{email} has no access to this dashboard. Ask an admin to add it (reelytics users add).",
        "zh": "{email} 无权访问此看板。请联系管理员添加（reelytics users add）。",
    },
    "auth.open_binding": {
        "en": "This dashboard listens on {address} but no sign-in is configured, so it refuses to serve. Add a user (reelytics users add NAME --role admin) or configure single sign-on, then reload; see docs/security.md.",
        "zh": "此看板监听 {address}，但尚未配置登录，因此拒绝提供服务。请添加用户（reelytics users add NAME --role admin）或配置单点登录后刷新；详见 docs/security.md。",
    },
    "auth.users_file_bad": {
        "en": "The users file {path} cannot be read, so nobody can sign in. Fix or remove it (reelytics users list shows the error).",
        "zh": "无法读取用户文件 {path}，因此无人能够登录。请修复或删除该文件（reelytics users list 会显示错误）。",
    },
    "auth.as": {"en": "Signed in as {name} · {role}", "zh": "当前用户：{name} · {role}"},
    "auth.open": {
        "en": "No sign-in configured: local use, everyone here is {role}",
        "zh": "未配置登录：仅限本机使用，所有人均为{role}",
    },
    "auth.role.viewer": {"en": "viewer", "zh": "查看者"},
    "auth.role.analyst": {"en": "analyst", "zh": "分析师"},
    "auth.role.admin": {"en": "admin", "zh": "管理员"},
    "access.denied": {
        "en": "Your role may not {action}: that needs the {needed} role.",
        "zh": "你的角色无权{action}：需要{needed}角色。",
    },
    "access.no_model": {
        "en": "No model is trained for these settings yet, and training one needs the analyst or admin role.",
        "zh": "当前设置下尚无已训练的模型，训练模型需要分析师或管理员角色。",
    },
    "access.action.export": {"en": "export tables", "zh": "导出表格"},
    "access.action.train": {"en": "train models", "zh": "训练模型"},
    "access.action.ingest": {"en": "upload or import data", "zh": "上传或导入数据"},
    "access.action.remove_upload": {"en": "remove uploads", "zh": "删除上传"},
    "access.action.manage_users": {"en": "manage users", "zh": "管理用户"},
    "access.data_admin_only": {
        "en": "Uploading, importing and removing data needs the admin role; you are {role}.",
        "zh": "上传、导入和删除数据需要管理员角色；你当前是{role}。",
    },
}
