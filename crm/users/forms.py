"""Account forms; choices are filled per request from what the actor may assign.

Post, outlet and branch are not checked against the offered choices here: a forged value reaches the service,
which refuses it with a message that says why (您不能设置该岗位 / 请选择您管辖范围内的网点), not a bare
"not a valid choice"."""

from flask_babel import lazy_gettext as _l
from flask_wtf import FlaskForm
from wtforms import DateField, HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional


class UserForm(FlaskForm):
    login = StringField(_l("登录名"), validators=[DataRequired(_l("请输入登录名")), Length(max=40)],
                        description=_l("网点员工用身份证号码（R-01），分行员工可用员工号"))
    name = StringField(_l("姓名"), validators=[DataRequired(_l("请输入姓名")), Length(max=50)])
    phone = StringField(_l("手机号码"), validators=[Optional(), Length(max=20)])
    staff_no = StringField(_l("员工号"), validators=[Optional(), Length(max=20)])
    post = SelectField(_l("岗位"), validators=[DataRequired(_l("请选择岗位"))], validate_choice=False)
    outlet_id = SelectField(_l("所属网点"), coerce=str, validators=[Optional()], validate_choice=False)
    branch_id = SelectField(_l("所属机构"), coerce=str, validators=[Optional()], validate_choice=False,
                            description=_l("分行、支行岗位填写；网点岗位按网点自动归属"))
    grade = SelectField(_l("客户经理等级"), validators=[Optional()])
    grade_effective_from = DateField(_l("等级生效日期"), validators=[Optional()])
    version = HiddenField()


class EditUserForm(UserForm):
    """Same fields; the login of an existing account is fixed."""
